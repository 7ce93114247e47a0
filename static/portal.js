/* Our pages run under a Content-Security-Policy without inline script. Flask-Admin's templates
   carry a few inline onclick handlers (bulk actions, delete confirmation); the portal serves them
   as data-onclick (views/screens.py) and they are bound here. */
(function () {
  'use strict';
  document.documentElement.setAttribute('lang', 'zh-CN');
  function bind(el) {
    var code = el.getAttribute('data-onclick') || el.getAttribute('onclick') || '';
    el.removeAttribute('data-onclick');
    el.removeAttribute('onclick');
    var m = code.match(/modelActions\.execute\('([^']+)'\)/);
    if (m) {
      el.addEventListener('click', function (e) { e.preventDefault(); window.modelActions.execute(m[1]); });
      return;
    }
    m = code.match(/safeConfirm\('((?:[^'\\]|\\.)*)'\)/);
    if (m) {
      var msg = m[1].replace(/\\'/g, "'");
      el.addEventListener('click', function (e) { if (!window.confirm(msg)) { e.preventDefault(); } });
      return;
    }
    if (/return false/.test(code)) {
      el.addEventListener('click', function (e) { e.preventDefault(); });
    }
  }
  function init() {
    Array.prototype.forEach.call(document.querySelectorAll('[data-onclick], [onclick]'), bind);
    Array.prototype.forEach.call(document.querySelectorAll('form[data-confirm]'), function (form) {
      form.addEventListener('submit', function (e) {
        if (!window.confirm(form.getAttribute('data-confirm'))) { e.preventDefault(); }
      });
    });
  }
  if (document.readyState === 'loading') { document.addEventListener('DOMContentLoaded', init); } else { init(); }
})();
