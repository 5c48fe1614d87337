// Forms: a file chosen in an <input type="file" data-into="ID"> is read as text into the
// textarea with that id, so a trainer can import a GIFT file instead of pasting it. Without
// this script the textarea still takes pasted text.
(function () {
  "use strict";
  var inputs = document.querySelectorAll('input[type="file"][data-into]');
  Array.prototype.forEach.call(inputs, function (input) {
    input.hidden = false;
    var label = document.querySelector('label[for="' + input.id + '"]');
    if (label) { label.hidden = false; }
    input.addEventListener("change", function () {
      var target = document.getElementById(input.dataset.into);
      var file = input.files && input.files[0];
      if (!target || !file) { return; }
      var reader = new FileReader();
      reader.onload = function () { target.value = String(reader.result); target.focus(); };
      reader.readAsText(file);
    });
  });
}());
