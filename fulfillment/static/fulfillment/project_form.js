// The project form warns while the person types an eCommerceIDString id that another project
// of the publisher lists already (a bundle: one SamCart purchase then makes an order for each).
// The ids of the other projects come from the input's data-shared-ids (JSON, no inline script).
"use strict";

(function () {
  const ID = /[A-Za-z0-9_-]{1,64}/g;

  function warnings(input) {
    const shared = JSON.parse(input.dataset.sharedIds || "{}");
    const template = input.dataset.warningTemplate || "";
    const ids = [...new Set(input.value.match(ID) || [])];
    return ids
      .filter((id) => Object.prototype.hasOwnProperty.call(shared, id))
      .map((id) =>
        template
          .replace("{id}", id)
          .replace("{projects}", shared[id].map((title) => "“" + title + "”").join(", "))
      );
  }

  function show(input, box) {
    const found = warnings(input);
    box.replaceChildren(
      ...found.map((text) => {
        const line = document.createElement("p");
        line.textContent = "⚠ " + text;
        return line;
      })
    );
    box.hidden = found.length === 0;
  }

  document.addEventListener("DOMContentLoaded", () => {
    const input = document.getElementById("id_ecommerce_id_string");
    if (!input || !input.dataset.sharedIds) {
      return;
    }
    const box = document.createElement("div");
    box.id = "shared-id-warning";
    box.className = "ts-shared-warning";
    box.setAttribute("role", "status");
    input.insertAdjacentElement("afterend", box);
    input.addEventListener("input", () => show(input, box));
    show(input, box);
  });
})();
