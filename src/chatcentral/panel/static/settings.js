// The Ajustes page's text editor: the WhatsApp preview follows what the owner types.
// The server renders the bubble (POST /panel/settings/texts/preview), so the preview is
// exactly what "Vista previa" shows without JavaScript.
(function () {
  "use strict";
  var form = document.getElementById("text-form");
  if (!form) return;
  var text = document.getElementById("text");
  var preview = document.getElementById("preview");
  var count = document.getElementById("count");
  var timer = null;
  var asked = 0;

  function refresh() {
    var mine = ++asked;
    var body = new URLSearchParams(new FormData(form));
    body.set("fragment", "1");
    fetch("/panel/settings/texts/preview", {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
    })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        if (mine === asked) preview.innerHTML = html; // rendered and escaped by the server
      })
      .catch(function () { /* the "Vista previa" button still works */ });
  }

  text.addEventListener("input", function () {
    count.textContent = String(text.value.length);
    clearTimeout(timer);
    timer = setTimeout(refresh, 300);
  });
})();
