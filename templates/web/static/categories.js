// A categories field holds several categories, separated by commas; a <datalist> suggests
// only whole values. Keep each suggestion prefixed with what is typed before the last comma,
// so picking "Robotics (cs.RO)" after "cs.LG, rob" gives "cs.LG, Robotics (cs.RO)".
(function () {
  var list = document.getElementById("arxiv-categories");
  if (!list) return;
  var labels = Array.prototype.map.call(list.options, function (o) { return o.value; });
  function refresh(field) {
    var value = field.value;
    var cut = value.lastIndexOf(",");
    var before = cut < 0 ? "" : value.slice(0, cut + 1).replace(/\s*$/, " ");
    var options = list.options;
    for (var i = 0; i < labels.length; i++) options[i].value = before + labels[i];
  }
  var fields = document.querySelectorAll("input[data-multi]");
  for (var i = 0; i < fields.length; i++) {
    fields[i].addEventListener("input", function (e) { refresh(e.target); });
    fields[i].addEventListener("focus", function (e) { refresh(e.target); });
  }
})();
