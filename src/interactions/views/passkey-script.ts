/**
 * The passkey ceremonies in the browser, served from /assets/passkeys.js (CSP: script-src
 * 'self', no inline script). It drives @simplewebauthn/browser (served beside it from the
 * project's own node_modules): the passkey button of the login page and of the code page (a
 * form marked data-passkey-sign-in, its failure message in data-failure) and, on the login page
 * (data-passkey-autofill) where the browser supports it, passkey autofill on the username field;
 * the account area's "Add a passkey" form. Each ceremony fetches fresh options (a single-use challenge the server keeps),
 * then submits an ordinary form, so the server answers with its usual redirects and pages.
 */
export const PASSKEY_SCRIPT = `'use strict';
(function () {
  var lib = window.SimpleWebAuthnBrowser;
  if (!lib) return;

  function options(url, fields) {
    return fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams(fields || {}),
    }).then(function (response) {
      if (!response.ok) throw new Error('options');
      return response.json();
    });
  }

  function say(form, message) {
    var status = form.querySelector('[data-passkey-status]');
    if (status) status.textContent = message;
  }

  var signIn = document.querySelector('form[data-passkey-sign-in]');
  if (signIn && lib.browserSupportsWebAuthn()) {
    signIn.hidden = false;
    var run = function (autofill) {
      return options(signIn.dataset.optionsUrl).then(function (optionsJSON) {
        return lib.startAuthentication({ optionsJSON: optionsJSON, useBrowserAutofill: autofill });
      }).then(function (response) {
        signIn.elements.namedItem('response').value = JSON.stringify(response);
        signIn.submit();
      });
    };
    signIn.querySelector('button').addEventListener('click', function () {
      say(signIn, '');
      run(false).catch(function (error) {
        if (error && error.name === 'AbortError') return;
        say(signIn, signIn.dataset.failure || 'The passkey could not be used.');
      });
    });
    if (signIn.hasAttribute('data-passkey-autofill')) {
      lib.browserSupportsWebAuthnAutofill().then(function (supported) {
        if (supported) run(true).catch(function () {});
      });
    }
  }

  var register = document.querySelector('form[data-passkey-register]');
  if (register) {
    if (!lib.browserSupportsWebAuthn()) {
      say(register, 'This browser cannot create passkeys.');
      register.querySelector('button').disabled = true;
      return;
    }
    register.addEventListener('submit', function (event) {
      event.preventDefault();
      say(register, '');
      var csrf = register.elements.namedItem('csrf').value;
      options(register.dataset.optionsUrl, { csrf: csrf }).then(function (optionsJSON) {
        return lib.startRegistration({ optionsJSON: optionsJSON });
      }).then(function (response) {
        register.elements.namedItem('response').value = JSON.stringify(response);
        register.submit();
      }).catch(function () {
        say(register, 'No passkey was created. Try again.');
      });
    });
  }
})();
`;
