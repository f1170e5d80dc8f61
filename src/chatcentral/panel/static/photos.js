// A product's photo page: a photo over WhatsApp's 5 MB is refused before it is sent (the
// server would refuse the whole form, and the owner would wait for nothing).
"use strict";

(function () {
  var form = document.getElementById("photo-form");
  var file = document.getElementById("photo-file");
  var error = document.getElementById("photo-error");
  if (!form || !file || !error) return;
  var MAX = 5 * 1024 * 1024;

  form.addEventListener("submit", function (event) {
    var chosen = file.files && file.files[0];
    if (chosen && chosen.size > MAX) {
      event.preventDefault();
      error.textContent = "La foto pesa más de 5 MB. Prueba con una más ligera.";
      error.hidden = false;
    }
  });
})();
