/* Nothing typed is lost (sessions and forms).

   - Typing keeps the session alive: at most once a minute a POST to /session/keepalive.
   - Two minutes before the idle timeout a bar warns and offers to stay signed in; once the
     session has ended it says so and links to the login page.
   - Every form posted with a token keeps a draft of what was typed in sessionStorage (this tab
     only, gone when the tab closes: a shared office PC keeps no owner's data), keyed by the
     page's address. When the save did not go through because the session ended (the login page
     comes next) or the token was stale (the server sends the form back with #kefu-restore), the
     form is filled from the draft again, with a message. Chosen photos are kept in IndexedDB and
     put back into a refused form; where the browser cannot, the form says to choose them again.
   - 退出登录 in the menu signs out by POST with the token. */
(function () {
  'use strict';
  var DRAFT = 'kefu-draft:', PENDING = 'kefu-pending', TOUCH = 'kefu-last-touch';
  var WARN_BEFORE = 120, KEEPALIVE_EVERY = 60;
  var store = window.sessionStorage;
  var shared = window.localStorage;

  function meta(name) {
    var el = document.querySelector('meta[name="' + name + '"]');
    return el ? el.getAttribute('content') : null;
  }
  function read(storage, key) {
    try { return JSON.parse(storage.getItem(key) || 'null'); } catch (e) { return null; }
  }
  function write(storage, key, value) {
    try { storage.setItem(key, JSON.stringify(value)); } catch (e) { /* full or disabled */ }
  }
  function here() { return location.pathname + location.search; }
  function jq() { return window.jQuery && window.jQuery.fn && window.jQuery.fn.select2 ? window.jQuery : null; }

  // ------------------------------------------------------------------ drafts of forms

  function draftForms() {
    return Array.prototype.filter.call(document.querySelectorAll('form'), function (form) {
      return (form.getAttribute('method') || '').toLowerCase() === 'post' &&
        form.querySelector('input[name="csrf_token"]') && !form.hasAttribute('data-login-form') &&
        !form.hasAttribute('data-logout-form') && !form.hasAttribute('data-no-draft');
    });
  }
  function kept(el) {
    var type = (el.type || '').toLowerCase();
    return el.name && el.name !== 'csrf_token' && type !== 'password' && type !== 'file' &&
      type !== 'submit' && type !== 'button' && !el.disabled;
  }
  function snapshot(form, index) {
    var fields = {}, labels = {}, $ = jq();
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!kept(el)) { return; }
      var type = (el.type || '').toLowerCase(), value;
      if (type === 'checkbox' || type === 'radio') {
        value = fields[el.name] || [];
        if (el.checked) { value.push(el.value); }
      } else if (el.tagName === 'SELECT' && el.multiple) {
        value = Array.prototype.filter.call(el.options, function (o) { return o.selected; })
          .map(function (o) { return o.value; });
      } else {
        value = el.value;
      }
      fields[el.name] = value;
      if ($ && el.getAttribute('data-role') === 'select2-ajax') {
        try { labels[el.name] = $(el).select2('data'); } catch (e) { /* not dressed yet */ }
      }
    });
    return {form: index, fields: fields, labels: labels, at: Date.now()};
  }
  function saveDraft(form, index) { write(store, DRAFT + here() + '#' + index, snapshot(form, index)); }

  function fill(form, draft) {
    var $ = jq();
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!kept(el) || !Object.prototype.hasOwnProperty.call(draft.fields, el.name)) { return; }
      var value = draft.fields[el.name], type = (el.type || '').toLowerCase();
      if (type === 'checkbox' || type === 'radio') {
        el.checked = value.indexOf(el.value) >= 0;
      } else if (el.tagName === 'SELECT' && el.multiple) {
        Array.prototype.forEach.call(el.options, function (o) { o.selected = value.indexOf(o.value) >= 0; });
      } else {
        el.value = value;
      }
      if ($ && draft.labels[el.name] && el.getAttribute('data-role') === 'select2-ajax') {
        try { $(el).select2('data', draft.labels[el.name]); } catch (e) { /* keep the value */ }
      } else if ($ && el.tagName === 'SELECT') {
        $(el).trigger('change');
      }
      el.dispatchEvent(new Event('input', {bubbles: true}));
    });
  }

  function notice(form, text, level) {
    var box = document.createElement('div');
    box.className = 'alert alert-' + (level || 'info');
    box.setAttribute('role', 'status');
    box.setAttribute('data-draft-notice', '');
    box.textContent = text;
    form.parentNode.insertBefore(box, form);
  }
  // Chosen files are kept in IndexedDB (the browser's own store, this computer only) from the
  // moment they are chosen until the save went through, at most two hours; a form that comes
  // back refused gets them again. Where that cannot be done, the form says to choose them again.
  var FILES_DB = 'kefu-form-files', FILES_KEEP = 2 * 3600 * 1000;
  function filesDb(done) {
    if (!window.indexedDB) { done(null); return; }
    var open;
    try { open = indexedDB.open(FILES_DB, 1); } catch (e) { done(null); return; }
    open.onupgradeneeded = function () { open.result.createObjectStore('files'); };
    open.onsuccess = function () { done(open.result); };
    open.onerror = function () { done(null); };
  }
  function filesTx(mode, work) {
    filesDb(function (db) {
      if (!db) { work(null); return; }
      try { work(db.transaction('files', mode).objectStore('files')); } catch (e) { work(null); }
    });
  }
  function keepFiles(key, input) {
    var files = Array.prototype.slice.call(input.files || []);
    filesTx('readwrite', function (shelf) {
      if (!shelf) { return; }
      if (files.length) { shelf.put({files: files, at: Date.now()}, key); } else { shelf.delete(key); }
    });
  }
  function forgetFiles(prefix) {
    filesTx('readwrite', function (shelf) {
      if (!shelf) { return; }
      shelf.openCursor().onsuccess = function (e) {
        var cursor = e.target.result;
        if (!cursor) { return; }
        if ((prefix && cursor.key.indexOf(prefix) === 0) || Date.now() - cursor.value.at > FILES_KEEP) {
          cursor.delete();
        }
        cursor.continue();
      };
    });
  }
  function askForFiles(form, prefix, files) {
    (files || []).forEach(function (file) {
      var input = form.querySelector('input[type="file"][name="' + file.name + '"]');
      if (!input || (input.files && input.files.length)) { return; }
      var hint = document.createElement('div');
      hint.className = 'alert mt-1 mb-2 small';
      hint.setAttribute('role', 'alert');
      var say = function (kept) {
        hint.className += kept ? ' alert-info' : ' alert-warning';
        hint.setAttribute(kept ? 'data-file-kept' : 'data-reattach', file.name);
        hint.textContent = kept ? '已保留您选择的文件「' + file.files.join('、') + '」，无需重新选择。'
          : '尚未保存：您选择的文件「' + file.files.join('、') +
            '」没有随表单保存，请重新选择后再保存。';
        input.parentNode.insertBefore(hint, input.nextSibling);
      };
      filesTx('readonly', function (shelf) {
        if (!shelf || typeof DataTransfer === 'undefined') { say(false); return; }
        var got = shelf.get(prefix + file.name);
        got.onsuccess = function () {
          try {
            var transfer = new DataTransfer();
            (got.result ? got.result.files : []).forEach(function (f) { transfer.items.add(f); });
            if (!transfer.files.length) { say(false); return; }
            input.files = transfer.files;
            say(input.files.length > 0);
          } catch (e) { say(false); }
        };
        got.onerror = function () { say(false); };
      });
    });
  }
  function chosenFiles(form) {
    return Array.prototype.filter.call(form.querySelectorAll('input[type="file"]'), function (el) {
      return el.name && el.files && el.files.length;
    }).map(function (el) {
      return {name: el.name, files: Array.prototype.map.call(el.files, function (f) { return f.name; })};
    });
  }
  function hasErrors() {
    return !!document.querySelector('.is-invalid, .invalid-feedback, .alert-danger, .help-block.form-errors');
  }

  function initDrafts() {
    var forms = draftForms(), pending = read(store, PENDING);
    var restoreAsked = location.hash === '#kefu-restore';
    if (restoreAsked && history.replaceState) { history.replaceState(null, '', here()); }
    if (pending && document.querySelector('form[data-login-form]')) {
      pending.restore = true;            // the save did not go through: the session had ended
      write(store, PENDING, pending);
      return;
    }
    if (pending && pending.url !== here()) {
      store.removeItem(DRAFT + pending.url + '#' + pending.form);   // saved: on to another page
      store.removeItem(PENDING);
      forgetFiles(pending.url + '#' + pending.form + ':');
      pending = null;
    } else {
      forgetFiles(null);                           // only what is older than two hours
    }
    forms.forEach(function (form, index) {
      var key = DRAFT + here() + '#' + index, draft = read(store, key);
      var mine = pending && pending.form === index;
      var filesKey = here() + '#' + index + ':';
      if (draft && (restoreAsked || (mine && pending.restore)) && !hasErrors()) {
        fill(form, draft);
        notice(form, '已填回您未保存的内容（登录已过期或页面已失效，刚才没有保存）。请检查后点击「保存」。');
        if (mine) { askForFiles(form, filesKey, pending.files); }
      } else if (mine && hasErrors()) {
        askForFiles(form, filesKey, pending.files);  // the form came back with its errors
      } else if (mine) {
        store.removeItem(key);                     // saved, and the form shown again
        forgetFiles(filesKey);
      }
      Array.prototype.forEach.call(form.querySelectorAll('input[type="file"]'), function (input) {
        if (input.name) {
          input.addEventListener('change', function () { keepFiles(filesKey + input.name, input); });
        }
      });
      var timer = null;
      var later = function () { clearTimeout(timer); timer = setTimeout(function () { saveDraft(form, index); }, 300); };
      form.addEventListener('input', later);
      form.addEventListener('change', later);
      form.addEventListener('submit', function () {
        saveDraft(form, index);
        write(store, PENDING, {url: here(), form: index, files: chosenFiles(form), at: Date.now()});
      });
    });
    if (pending && pending.url === here()) { store.removeItem(PENDING); }
  }

  // ------------------------------------------------------------------ idle timeout

  var idle = parseInt(meta('kefu-idle-seconds') || '0', 10), token = meta('csrf-token');
  var lastTouch = Date.now(), bar = null, ended = false, asking = false;

  function touched(at) {
    lastTouch = Math.max(lastTouch, at);
    write(shared, TOUCH, lastTouch);
  }
  function showBar(html, level) {
    if (!bar) {
      bar = document.createElement('div');
      bar.id = 'session-bar';
      bar.setAttribute('role', 'alert');
      bar.style.cssText = 'position:fixed;left:0;right:0;bottom:0;z-index:2000;margin:0;border-radius:0';
      document.body.appendChild(bar);
    }
    bar.className = 'alert alert-' + level + ' text-center';
    bar.innerHTML = html;
    var stay = bar.querySelector('[data-stay]');
    if (stay) { stay.addEventListener('click', function () { keepAlive(true); }); }
    var again = bar.querySelector('[data-login-again]');
    if (again) {
      again.addEventListener('click', function () {
        var forms = draftForms();
        forms.forEach(saveDraft);
        if (forms.length) { write(store, PENDING, {url: here(), form: 0, restore: true, files: chosenFiles(forms[0]), at: Date.now()}); }
      });
    }
  }
  function hideBar() { if (bar) { bar.parentNode.removeChild(bar); bar = null; } }
  function showEnded() {
    ended = true;
    draftForms().forEach(saveDraft);
    showBar('登录已过期。您在本页填写的内容已保存在本机浏览器中，' +
      '<a class="alert-link" data-login-again href="/login?next=' + encodeURIComponent(here()) +
      '">重新登录</a>后将自动填回。', 'danger');
  }
  function keepAlive(clicked) {
    if (!token || ended || asking) { return; }
    asking = true;
    var request = new XMLHttpRequest();
    request.open('POST', '/session/keepalive');
    request.setRequestHeader('X-CSRFToken', token);
    request.setRequestHeader('Accept', 'application/json');
    request.onloadend = function () { asking = false; };
    request.onload = function () {
      if (request.status === 200) {
        touched(Date.now());
        hideBar();
      } else if (request.status === 401) {
        showEnded();
      } else if (clicked) {
        showBar('暂时无法连接服务器，请稍后再点“继续保持登录”。', 'warning');
      }
    };
    request.send();
  }
  function check() {
    if (ended) { return; }
    touched(parseInt(shared.getItem(TOUCH) || '0', 10) || 0);   // another tab's activity counts
    var left = idle - (Date.now() - lastTouch) / 1000;
    if (left <= 0) {
      showEnded();
    } else if (left <= WARN_BEFORE) {
      showBar('您已较长时间没有操作，登录将在约 ' + Math.ceil(left / 60) + ' 分钟后过期。 ' +
        '<button type="button" class="btn btn-sm btn-primary ml-2" data-stay>继续保持登录</button>', 'warning');
    }
  }
  function activity() {
    if (!ended && (Date.now() - lastTouch) / 1000 > KEEPALIVE_EVERY) { keepAlive(false); }
  }
  function initIdle() {
    if (!idle || !token) { return; }
    touched(Date.now());                 // this page's own request refreshed the session
    ['keydown', 'input', 'mousedown', 'touchstart'].forEach(function (name) {
      document.addEventListener(name, activity, true);
    });
    setInterval(check, 10000);
  }

  // ------------------------------------------------------------------ signing out by POST

  function initLogout() {
    Array.prototype.forEach.call(document.querySelectorAll('a[href="/logout"]'), function (link) {
      link.addEventListener('click', function (e) {
        if (!token) { return; }            // the confirmation page asks instead
        e.preventDefault();
        var form = document.createElement('form');
        form.method = 'post';
        form.action = '/logout';
        form.setAttribute('data-logout-form', '');
        var field = document.createElement('input');
        field.type = 'hidden';
        field.name = 'csrf_token';
        field.value = token;
        form.appendChild(field);
        document.body.appendChild(form);
        form.submit();
      });
    });
  }

  function init() { initDrafts(); initIdle(); initLogout(); }
  if (document.readyState === 'loading') { document.addEventListener('DOMContentLoaded', init); } else { init(); }
})();
