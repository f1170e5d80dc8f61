// The orders board's live feed: the server sends `orders` (newest id, latest change) over
// server-sent events; a new id rings and the board is fetched again. Nothing else runs
// here, and no customer text is ever turned into HTML by this script (the board arrives
// rendered and escaped by the server).
"use strict";

(function () {
  var live = document.getElementById("live");
  var board = document.getElementById("board");
  if (!live || !board || !window.EventSource) return;

  var audio = null;
  var soundButton = document.getElementById("sound");
  if (soundButton) {
    // Browsers only let a page make sound after a tap on it.
    soundButton.addEventListener("click", function () {
      var Context = window.AudioContext || window.webkitAudioContext;
      if (!Context) return;
      audio = audio || new Context();
      audio.resume();
      soundButton.textContent = "🔔 Sonido activado";
      ring();
    });
  }

  // Two short beeps made on the spot: no sound file to ship.
  function ring() {
    if (!audio) return;
    [0, 0.22].forEach(function (offset) {
      var start = audio.currentTime + offset;
      var tone = audio.createOscillator();
      var gain = audio.createGain();
      tone.frequency.value = 880;
      gain.gain.setValueAtTime(0.2, start);
      gain.gain.exponentialRampToValueAtTime(0.001, start + 0.18);
      tone.connect(gain).connect(audio.destination);
      tone.start(start);
      tone.stop(start + 0.2);
    });
  }

  var known = null;
  var changed = null;

  function refresh(fresh) {
    fetch(live.dataset.board, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (response.redirected || !response.ok) throw new Error("board " + response.status);
        return response.text();
      })
      .then(function (html) {
        board.innerHTML = html;
        fresh.forEach(function (id) {
          var link = board.querySelector('[data-order="' + id + '"]');
          if (link) link.classList.add("fresh");
        });
        live.textContent = "Actualizado " + new Date().toLocaleTimeString("es-MX");
      })
      .catch(function () { live.textContent = "Sin conexión; reintentando…"; });
  }

  var source = new EventSource(live.dataset.events);
  source.addEventListener("orders", function (event) {
    var data = JSON.parse(event.data);
    if (known !== null && (data.latest !== known || data.changed !== changed)) {
      var fresh = [];
      for (var id = known + 1; id <= data.latest && fresh.length < 50; id++) fresh.push(id);
      if (fresh.length) ring();
      refresh(fresh);
    }
    known = data.latest;
    changed = data.changed;
  });
  source.addEventListener("signed_out", function () {
    source.close();
    window.location.assign("/panel/login");
  });
})();
