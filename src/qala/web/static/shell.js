// The layout's behaviour: the city switch keeps the section the user is in.
(function () {
  "use strict";
  var select = document.querySelector("[data-city-switch] select");
  if (!select) return;
  select.addEventListener("change", function () {
    if (!select.value) return;
    var section = /\/public$/.test(location.pathname) ? "public" : "";
    location.href = "/c/" + encodeURIComponent(select.value) + "/" + section;
  });
})();
