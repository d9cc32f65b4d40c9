// Prefill the time zone from the browser when the form has none yet.
(function () {
  var field = document.getElementById("timezone");
  if (!field || field.value) return;
  try {
    field.value = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch (e) {
    field.value = "UTC";
  }
})();
