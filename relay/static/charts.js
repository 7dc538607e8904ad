// Draws the dashboard's charts with the vendored Chart.js (chart-4.6.1.umd.min.js), from
// the JSON each page embeds next to its data table. The page is complete without this
// file: every number is in the table. No inline script (the CSP forbids it).
(function () {
  "use strict";
  var palette = ["#7a1f1a", "#0b5cad", "#1f7a4d", "#9a6700", "#6f42c1", "#c2410c",
                 "#0e7490", "#be185d", "#4d7c0f", "#57534e"];
  function draw(canvas) {
    var src = document.getElementById(canvas.getAttribute("data-chart"));
    if (!src || typeof Chart === "undefined") { return; }
    var data = JSON.parse(src.textContent);
    data.datasets.forEach(function (d, i) {
      d.backgroundColor = palette[i % palette.length];
      d.borderWidth = 0;
    });
    new Chart(canvas, {
      type: "bar",
      data: data,
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        plugins: { legend: { position: "bottom" } },
        scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true,
                                            ticks: { precision: 0 } } }
      }
    });
  }
  function ready() {
    Array.prototype.forEach.call(document.querySelectorAll("canvas[data-chart]"), draw);
    Array.prototype.forEach.call(document.querySelectorAll("[data-print]"), function (b) {
      b.addEventListener("click", function () { window.print(); });
    });
    // Choosing dates means a custom period.
    Array.prototype.forEach.call(document.querySelectorAll("form.filters input[type=date]"),
      function (input) {
        input.addEventListener("change", function () {
          var sel = input.form.querySelector("select[name=period]");
          if (sel) { sel.value = "custom"; }
        });
      });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else { ready(); }
})();
