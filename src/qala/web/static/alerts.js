// The alerts feed: polls the city's alerts and prepends new ones.
(function () {
  "use strict";
  var list = document.getElementById("alerts");
  if (!list) return;
  var city = list.getAttribute("data-city");
  var lastId = 0;
  function show(alerts) {
    if (!alerts.length && !list.children.length) {
      list.innerHTML = "";
      var empty = document.createElement("li");
      empty.className = "muted empty";
      empty.textContent = list.getAttribute("data-empty");
      list.appendChild(empty);
      return;
    }
    alerts.slice().reverse().forEach(function (alert) {
      var placeholder = list.querySelector(".empty");
      if (placeholder) placeholder.remove();
      var item = document.createElement("li");
      item.className = "alert severity-" + alert.severity;
      var time = document.createElement("time");
      time.dateTime = alert.created_at;
      time.textContent = new Date(alert.created_at).toLocaleTimeString(document.documentElement.lang || undefined);
      var text = document.createElement(alert.link ? "a" : "span");
      text.textContent = alert.text;
      if (alert.link) text.href = alert.link;
      item.appendChild(time);
      item.appendChild(text);
      list.insertBefore(item, list.firstChild);
      lastId = Math.max(lastId, alert.id);
    });
  }
  function poll() {
    fetch("/api/alerts?city=" + encodeURIComponent(city) + "&after_id=" + lastId, {
      credentials: "same-origin", headers: { "Accept": "application/json" }
    }).then(function (r) { return r.ok ? r.json() : []; }).then(show).catch(function () {});
  }
  poll();
  setInterval(poll, 10000);
})();
