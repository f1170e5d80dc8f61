// The catalog's rows save themselves: a change in a row posts its form in the background
// and the row is replaced by the server's own rendering of it (saved, or with its error).
// Without this script each row's "Guardar" button posts the same form. No customer or
// owner text is turned into HTML here: the row arrives rendered and escaped by the server.
"use strict";

(function () {
  var list = document.querySelectorAll("form[data-product]");
  if (!list.length || !window.fetch || !window.DOMParser) return;

  function rowOf(form) {
    return document.getElementById("p" + form.dataset.product);
  }

  function save(form) {
    // Enter in a field fires both change and submit: one request is enough.
    if (form.dataset.saving) return;
    form.dataset.saving = "1";
    var row = rowOf(form);
    var focused = row.contains(document.activeElement) ? document.activeElement.name : null;
    row.classList.add("saving");
    fetch(form.action, {
      method: "POST",
      body: new URLSearchParams(new FormData(form)),
      credentials: "same-origin",
      cache: "no-store",
    })
      .then(function (response) {
        if (response.redirected && response.url.indexOf("/panel/login") !== -1) {
          window.location.assign(response.url);
          return null;
        }
        return response.text();
      })
      .then(function (html) {
        if (html === null) return;
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById(row.id);
        if (!fresh) throw new Error("row missing from the answer");
        row.replaceWith(fresh);
        hook(fresh.querySelector("form[data-product]"));
        if (focused) {
          var again = fresh.querySelector('[name="' + focused + '"]');
          if (again) again.focus();
        }
      })
      .catch(function () {
        form.submit();  // the plain form still works
      });
  }

  function hook(form) {
    if (!form) return;
    form.addEventListener("change", function () { save(form); });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      save(form);
    });
  }

  Array.prototype.forEach.call(list, hook);
  document.documentElement.classList.add("catalog-live");
})();
