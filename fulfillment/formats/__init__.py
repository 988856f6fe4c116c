"""Display formats of the one clock (SPEC §3), found through settings.FORMAT_MODULE_PATH."""
