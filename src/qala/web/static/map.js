// The city map: district outlines from GeoJSON, on tiles only when a tile URL is configured.
(function () {
  "use strict";
  var holder = document.getElementById("map");
  var source = document.getElementById("map-data");
  if (!holder || !source || !window.L) return;
  var data = JSON.parse(source.textContent);
  var map = L.map(holder, { zoomSnap: 0.25, attributionControl: !!data.tileUrl });
  if (data.tileUrl) {
    L.tileLayer(data.tileUrl, { maxZoom: 19, attribution: data.attribution || "" }).addTo(map);
  } else {
    holder.classList.add("no-tiles");
  }
  var districts = L.geoJSON(data.districts, {
    style: function () {
      return { color: "#1f5f8b", weight: 2, fillColor: "#4aa3df", fillOpacity: 0.12 };
    },
    onEachFeature: function (feature, layer) {
      layer.bindTooltip(feature.properties.name, { sticky: true });
      layer.getElement && holder.setAttribute("data-districts", String(data.districts.features.length));
    }
  }).addTo(map);
  var b = data.bounds;
  if (b && b.length === 4) {
    map.fitBounds([[b[1], b[0]], [b[3], b[2]]]);
  } else if (districts.getLayers().length) {
    map.fitBounds(districts.getBounds());
  } else {
    map.setView(data.centre, 11);
  }
  holder.setAttribute("data-districts", String(districts.getLayers().length));
  window.qalaMap = map;
})();
