// The desk's only script (the CSP allows no inline script): the checklist's print button, and a
// ticket's conversation opened at its newest message. Every page works without it.
(function () {
  "use strict";
  var button = document.getElementById("print");
  if (button) { button.addEventListener("click", function () { window.print(); }); }
  var conversation = document.querySelector("ol.conversation");
  if (conversation) { conversation.scrollTop = conversation.scrollHeight; }
})();
