// The utilities map: districts, buildings coloured by their meters' state, active incidents.
(function () {
  "use strict";
  var holder = document.getElementById("utilities-map");
  var source = document.getElementById("utilities-map-data");
  if (!holder || !source || !window.L) return;
  var data = JSON.parse(source.textContent);
  var colours = { ok: "#2e7d32", silent: "#8a96a0", faulty: "#b26a00", incident: "#b71c1c", none: "#4aa3df" };
  var map = L.map(holder, { zoomSnap: 0.25, attributionControl: !!data.tileUrl, zoomControl: false });
  L.control.zoom({
    zoomInTitle: holder.getAttribute("data-zoom-in") || "Zoom in",
    zoomOutTitle: holder.getAttribute("data-zoom-out") || "Zoom out"
  }).addTo(map);
  if (data.tileUrl) {
    L.tileLayer(data.tileUrl, { maxZoom: 19, attribution: data.attribution || "" }).addTo(map);
  } else {
    holder.classList.add("no-tiles");
  }
  // The view first: circle markers need it to place themselves.
  var b = data.bounds;
  if (b && b.length === 4) {
    map.fitBounds([[b[1], b[0]], [b[3], b[2]]], { padding: [8, 8] });
  } else {
    map.setView(data.centre, 12);
  }
  L.geoJSON(data.districts, {
    style: function () { return { color: "#1f5f8b", weight: 1.5, fillColor: "#4aa3df", fillOpacity: 0.08 }; },
    onEachFeature: function (feature, layer) { layer.bindTooltip(feature.properties.name, { sticky: true }); }
  }).addTo(map);

  function text(tag, content, className) {
    var node = document.createElement(tag);
    node.textContent = content;
    if (className) node.className = className;
    return node;
  }
  function buildingPopup(p) {
    var box = document.createElement("div");
    var link = text("a", p.address);
    link.href = holder.getAttribute("data-link") + encodeURIComponent(p.id) + "#balance";
    box.appendChild(link);
    box.appendChild(text("div", holder.getAttribute("data-label-" + p.state) || p.state));
    return box;
  }
  function incidentPopup(p) {
    var box = document.createElement("div");
    var link = text("a", p.title);
    link.href = "#incident-" + p.id;
    box.appendChild(link);
    return box;
  }
  var markers = [];
  (data.features.features || []).forEach(function (feature) {
    var p = feature.properties;
    var c = feature.geometry.coordinates;
    var marker;
    if (p.kind === "incident") {
      marker = L.circleMarker([c[1], c[0]], {
        radius: 11, color: "#7f0000", weight: 3, fillColor: colours.incident, fillOpacity: 0.55,
        className: "ut-incident-marker"
      }).bindPopup(incidentPopup(p));
    } else {
      marker = L.circleMarker([c[1], c[0]], {
        radius: 5, color: "#ffffff", weight: 1, fillColor: colours[p.state] || colours.none, fillOpacity: 0.95,
        className: "ut-building-marker state-" + p.state
      }).bindPopup(buildingPopup(p));
    }
    marker.addTo(map);
    markers.push(marker);
  });
  holder.setAttribute("data-markers", String(markers.length));
  window.qalaUtilitiesMap = map;
})();
