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
