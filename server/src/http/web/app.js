// Latchkey's reference login page: the little script it needs, served as a
// file of its own so that the Content-Security-Policy allows scripts from
// 'self' only (no 'unsafe-inline'). Everything works without it: the status
// is then refreshed with the "Check again" link.
//
// - On the push page, long-polls GET /web/login/status (the server waits up
//   to 25 s for the phone's decision), writes what it learns into the
//   aria-live status region, and loads the result page once the login is
//   decided.
// - Opening "Click here if you do not receive the notification" moves the
//   keyboard focus to the response box.
(function () {
  'use strict';

  var live = document.getElementById('live-status');
  var page = document.body.getAttribute('data-page');
  var failures = 0;

  function poll() {
    fetch('/web/login/status?wait=25', {
      credentials: 'same-origin',
      cache: 'no-store',
      headers: { 'Accept': 'application/json' }
    })
      .then(function (answer) {
        if (!answer.ok) { throw new Error('HTTP ' + answer.status); }
        return answer.json();
      })
      .then(function (state) {
        failures = 0;
        if (state.message && live.textContent !== state.message) {
          live.textContent = state.message;
        }
        if (state.status === 'pending') {
          poll();
        } else {
          window.location.assign('/web/login');
        }
      })
      .catch(function () {
        failures += 1;
        live.textContent = 'The connection to the server was interrupted; trying again…';
        window.setTimeout(poll, Math.min(30000, 1000 * failures * failures));
      });
  }

  if (live && page === 'push') {
    var again = document.getElementById('check-again');
    if (again) { again.hidden = true; }
    poll();
  }

  var fallback = document.getElementById('fallback');
  if (fallback) {
    fallback.addEventListener('toggle', function () {
      if (fallback.open) {
        var box = document.getElementById('response');
        if (box) { box.focus(); }
      }
    });
  }
})();
