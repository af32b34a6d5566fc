// churnguard dashboard: draw the charts, sign in and out, clickable rows. No framework.
(function () {
  "use strict";

  function drawCharts() {
    if (typeof Plotly === "undefined") return;
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var spec = JSON.parse(document.getElementById(el.dataset.chart).textContent);
      Plotly.newPlot(el, spec.data, spec.layout, { displaylogo: false, responsive: true });
    });
  }

  function loginForm() {
    var form = document.getElementById("login-form");
    if (!form) return;
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var box = document.getElementById("login-error");
      box.hidden = true; // until this attempt's answer
      box.textContent = "";
      var data = new URLSearchParams(new FormData(form));
      var next = data.get("next") || "/ui/";
      data.delete("next"); // /login answers JSON without it; errors stay on this page
      fetch("/login", { method: "POST", body: data, credentials: "same-origin" })
        .then(function (r) {
          if (r.ok) { window.location.assign(next); return; }
          var key = r.status === 401 ? "error-401" : r.status === 429 ? "error-429" : "error-other";
          var wait = parseInt(r.headers.get("Retry-After") || "900", 10);
          box.textContent = form.getAttribute("data-" + key)
            .replace("{minutes}", String(Math.max(1, Math.ceil(wait / 60))));
          box.hidden = false;
        })
        .catch(function () {
          box.textContent = form.getAttribute("data-error-other");
          box.hidden = false;
        });
    });
  }

  function logout() {
    var button = document.getElementById("logout");
    if (!button) return;
    button.addEventListener("click", function () {
      fetch("/logout", { method: "POST", credentials: "same-origin" }).finally(function () {
        window.location.assign("/ui/login");
      });
    });
  }

  function rowLinks() {
    document.querySelectorAll("tr[data-href]").forEach(function (tr) {
      tr.addEventListener("click", function (ev) {
        if (ev.target.closest("a")) return;
        window.location.assign(tr.dataset.href);
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    drawCharts();
    loginForm();
    logout();
    rowLinks();
  });
})();
