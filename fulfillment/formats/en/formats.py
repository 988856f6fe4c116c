"""English display formats: every date and time Django renders (admin lists, read-only fields,
date_hierarchy) reads like `fulfillment.clock.when`: "2026-12-04 05:20 EST".

Only display formats are set here; the input formats (what forms and the admin's split
date/time widgets accept) stay Django's English ones.
"""

DATETIME_FORMAT = "Y-m-d H:i T"
SHORT_DATETIME_FORMAT = "Y-m-d H:i T"
DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = "Y-m-d"
TIME_FORMAT = "H:i"
YEAR_MONTH_FORMAT = "Y-m"
MONTH_DAY_FORMAT = "m-d"
