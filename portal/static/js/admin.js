// The admin menu's groups are <details> elements: they work without this script (Pico's
// overlay closes an open group on the next click anywhere). With it, a click on another
// group opens that one at once, opening a group closes the others, a click outside closes
// them, and Escape closes the open group and puts the focus back on its heading.
document.documentElement.classList.add("nav-js");
function closeGroups(except) {
  document.querySelectorAll("details[data-nav-group][open]").forEach(function (group) {
    if (group !== except) group.open = false;
  });
}
document.addEventListener("toggle", function (event) {
  var group = event.target;
  if (group.matches && group.matches("details[data-nav-group]") && group.open) closeGroups(group);
}, true);
document.addEventListener("click", function (event) {
  closeGroups(event.target.closest && event.target.closest("details[data-nav-group]"));
});
document.addEventListener("keydown", function (event) {
  if (event.key !== "Escape") return;
  var open = document.querySelector("details[data-nav-group][open]");
  if (!open) return;
  open.open = false;
  open.querySelector("summary").focus();
});

// A table or chart wider than the screen scrolls sideways in its box: such a box gets a
// tab stop and a name (its caption or the heading above it), so keyboard users can
// scroll it too (WCAG 2.1.1). Boxes that fit stay out of the tab order.
function markScrollBoxes() {
  var fallback = document.body.getAttribute("data-scroll-label") || "";
  document.querySelectorAll(".table-scroll, .chart-scroll").forEach(function (box) {
    if (box.scrollWidth > box.clientWidth + 1) {
      if (box.getAttribute("tabindex") === "0") return;
      var caption = box.querySelector("caption");
      var heading = box.closest("section, article, main");
      heading = heading && heading.querySelector("h1, h2, h3");
      var name = (caption && caption.textContent) || (heading && heading.textContent) || "";
      box.setAttribute("tabindex", "0");
      box.setAttribute("role", "region");
      box.setAttribute("aria-label", (name.trim() + " " + fallback).trim());
    } else if (box.getAttribute("tabindex") === "0") {
      box.removeAttribute("tabindex");
      box.removeAttribute("role");
      box.removeAttribute("aria-label");
    }
  });
}
document.addEventListener("DOMContentLoaded", markScrollBoxes);
window.addEventListener("resize", markScrollBoxes);
document.addEventListener("htmx:afterSettle", markScrollBoxes);
