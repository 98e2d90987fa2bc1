// After a passkey is registered (django-otp-webauthn's event), reload the page through a POST
// that shows the first recovery codes once, if the account has none yet.
document.addEventListener("otp_webauthn.register_complete", function () {
  var form = document.getElementById("after-passkey");
  if (form) { form.submit(); }
});
