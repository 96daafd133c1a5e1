// The city map: district outlines from GeoJSON, on tiles only when a tile URL is configured.
(function () {
  "use strict";
  var holder = document.getElementById("map");
  var source = document.getElementById("map-data");
  if (!holder || !source || !window.L) return;
  var data = JSON.parse(source.textContent);
  var map = L.map(holder, { zoomSnap: 0.25, attributionControl: !!data.tileUrl, zoomControl: false });
  // Button titles come translated from the template (data-zoom-in / data-zoom-out).
  L.control.zoom({
    zoomInTitle: holder.getAttribute("data-zoom-in") || "Zoom in",
    zoomOutTitle: holder.getAttribute("data-zoom-out") || "Zoom out"
  }).addTo(map);
  if (data.tileUrl) {
    L.tileLayer(data.tileUrl, { maxZoom: 19, attribution: data.attribution || "" }).addTo(map);
  } else {
    holder.classList.add("no-tiles");
  }
  var plain = { color: "#1f5f8b", weight: 2, fillColor: "#4aa3df", fillOpacity: 0.14 };
  var lit = { weight: 3, fillOpacity: 0.32 };
  var districts = L.geoJSON(data.districts, {
    style: function () { return plain; },
    onEachFeature: function (feature, layer) {
      layer.bindTooltip(feature.properties.name, { sticky: true });
      layer.on("mouseover", function () { layer.setStyle(lit); layer.bringToFront(); });
      layer.on("mouseout", function () { layer.setStyle(plain); });
    }
  }).addTo(map);
  var b = data.bounds;
  if (b && b.length === 4) {
    map.fitBounds([[b[1], b[0]], [b[3], b[2]]], { padding: [12, 12] });
  } else if (districts.getLayers().length) {
    map.fitBounds(districts.getBounds());
  } else {
    map.setView(data.centre, 11);
  }
  holder.setAttribute("data-districts", String(districts.getLayers().length));
  window.qalaMap = map;
})();
