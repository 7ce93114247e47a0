/* 现场验收 — walking the building on a tablet, with or without a connection.

   - What the page shows (the user, the project's rounds and buildings, the chosen building's units
     and open issues) is fetched from /inspect/api/* when online and kept in IndexedDB, so the
     page opens and works offline (the service worker, /inspect/sw.js, keeps the page itself).
   - What the inspector records (issues with their photos, verifications, units walked) goes to a
     queue in IndexedDB first — nothing is lost when the tablet is closed or restarted — and is
     sent item by item when there is a connection. Each item has an id made here
     (crypto.randomUUID); the portal stores an item once however often it arrives.
   - Answers: stored → removed from the queue; the session ended → the password is asked and
     sending goes on; a conflict with a change made at the desk, or a refusal by the register's
     rules → kept, shown in Chinese under 需处理, never dropped silently.
   - Photos are compressed here (longest side 1600 px, JPEG) before they are queued. */
(function () {
  'use strict';
  var DB_NAME = 'kefu-inspect', DB_VERSION = 1, MAX_SIDE = 1600, QUALITY = 0.72;
  var RETRY_MS = 15000;
  var state = {
    me: null, csrf: null, project: null, projectData: null, building: null, buildingData: null,
    round: null, unitIndex: -1, queue: [], sending: false, online: navigator.onLine,
    form: null, verify: null, loginAsked: false
  };
  var $ = function (id) { return document.getElementById(id); };

  // ------------------------------------------------------------------ IndexedDB

  var dbPromise = null;
  function openDb() {
    if (!dbPromise) {
      dbPromise = new Promise(function (resolve, reject) {
        var open = indexedDB.open(DB_NAME, DB_VERSION);
        open.onupgradeneeded = function () {
          var db = open.result;
          if (!db.objectStoreNames.contains('queue')) { db.createObjectStore('queue', {keyPath: 'client_id'}); }
          if (!db.objectStoreNames.contains('cache')) { db.createObjectStore('cache'); }
        };
        open.onsuccess = function () { resolve(open.result); };
        open.onerror = function () { reject(open.error); };
      });
    }
    return dbPromise;
  }
  function tx(store, mode, work) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var t = db.transaction(store, mode), result;
        var request = work(t.objectStore(store));
        if (request) { request.onsuccess = function () { result = request.result; }; }
        t.oncomplete = function () { resolve(result); };
        t.onerror = function () { reject(t.error); };
        t.onabort = function () { reject(t.error); };
      });
    });
  }
  function cacheGet(key) { return tx('cache', 'readonly', function (s) { return s.get(key); }); }
  function cachePut(key, value) { return tx('cache', 'readwrite', function (s) { return s.put(value, key); }); }
  function queueAll() {
    return tx('queue', 'readonly', function (s) { return s.getAll(); }).then(function (rows) {
      return (rows || []).sort(function (a, b) { return a.created_at - b.created_at; });
    });
  }
  function queuePut(item) { return tx('queue', 'readwrite', function (s) { return s.put(item); }); }
  function queueDelete(id) { return tx('queue', 'readwrite', function (s) { return s.delete(id); }); }

  // ------------------------------------------------------------------ small helpers

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === 'text') { node.textContent = attrs[k]; } else if (k === 'className') { node.className = attrs[k]; } else { node.setAttribute(k, attrs[k]); }
    });
    (children || []).forEach(function (c) { if (c) { node.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); } });
    return node;
  }
  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } }
  function today() {
    var d = new Date();
    return d.getFullYear() + '-' + String(d.getMonth() + 1).padStart(2, '0') + '-' + String(d.getDate()).padStart(2, '0');
  }
  function uuid() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    bytes[6] = (bytes[6] & 15) | 64; bytes[8] = (bytes[8] & 63) | 128;
    var hex = Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join('');
    return hex.slice(0, 8) + '-' + hex.slice(8, 12) + '-' + hex.slice(12, 16) + '-' + hex.slice(16, 20) + '-' + hex.slice(20);
  }
  var toastTimer = null;
  function toast(text) {
    var box = $('toast');
    box.textContent = text;
    box.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { box.hidden = true; }, 3500);
  }
  function banner(text, error) {
    var box = $('banner');
    box.hidden = !text;
    box.textContent = text || '';
    box.className = 'banner' + (error ? ' error' : '');
  }
  function remember(key, value) { try { localStorage.setItem('kefu-inspect:' + key, value == null ? '' : String(value)); } catch (e) { /* private mode */ } }
  function recall(key) { try { return localStorage.getItem('kefu-inspect:' + key) || ''; } catch (e) { return ''; } }

  function api(path) {
    return fetch(path, {credentials: 'same-origin', headers: {'Accept': 'application/json'}})
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (body) {
          if (body && body.csrf) { state.csrf = body.csrf; }
          return {status: response.status, body: body};
        });
      });
  }

  // ------------------------------------------------------------------ loading what the page shows

  function loadMe() {
    return api('/inspect/api/me').then(function (r) {
      if (r.status === 200) {
        state.me = r.body;
        return cachePut('me', r.body);
      }
      if (r.status === 401) { return cacheGet('me').then(function (me) { state.me = me || null; askLogin(); }); }
      return cacheGet('me').then(function (me) { state.me = me || null; });
    }, function () {
      return cacheGet('me').then(function (me) { state.me = me || null; });
    });
  }
  function loadProject(id) {
    var key = 'project:' + id;
    return api('/inspect/api/project?project=' + encodeURIComponent(id)).then(function (r) {
      if (r.status === 200) { return cachePut(key, r.body).then(function () { return r.body; }); }
      return cacheGet(key);
    }, function () { return cacheGet(key); });
  }
  function loadBuilding(projectId, building) {
    var key = 'building:' + projectId + ':' + building;
    return api('/inspect/api/building?project=' + encodeURIComponent(projectId) + '&building=' + encodeURIComponent(building))
      .then(function (r) {
        if (r.status === 200) { return cachePut(key, r.body).then(function () { return r.body; }); }
        return cacheGet(key);
      }, function () { return cacheGet(key); });
  }
  function saveBuildingCache() {
    if (state.buildingData) { return cachePut('building:' + state.project + ':' + state.building, state.buildingData); }
    return Promise.resolve();
  }

  function fillSelect(select, options, chosen) {
    clear(select);
    options.forEach(function (o) {
      var option = el('option', {value: o.value, text: o.label});
      if (String(o.value) === String(chosen)) { option.selected = true; }
      select.appendChild(option);
    });
  }

  function start() {
    return loadMe().then(function () {
      var me = state.me;
      if (!me) {
        banner('尚未取得您的账户信息：请联网后打开本页一次。', true);
        return;
      }
      $('who').textContent = me.user.name;
      if (!me.user.can_create) {
        banner('您的角色只能查看：本页不能录入或复验问题。');
        $('add-issue').hidden = true;
        $('walked-next').hidden = true;
      }
      var projects = me.projects.map(function (p) { return {value: p.id, label: p.name}; });
      var wanted = new URLSearchParams(location.search).get('project') || recall('project');
      if (!projects.some(function (p) { return String(p.value) === String(wanted); })) { wanted = projects.length ? projects[0].value : ''; }
      fillSelect($('project'), projects, wanted);
      return chooseProject(wanted);
    });
  }

  function chooseProject(id) {
    state.project = id ? String(id) : null;
    remember('project', state.project);
    if (!id) { return Promise.resolve(); }
    return loadProject(id).then(function (data) {
      state.projectData = data || null;
      if (!data) {
        banner('本平板上没有该项目的数据：请联网后再选择。', true);
        return;
      }
      var rounds = data.rounds.map(function (r) { return {value: r.id, label: r.round_no}; });
      rounds.push({value: '', label: '不属于轮次'});
      var round = recall('round:' + id);
      if (!data.rounds.some(function (r) { return String(r.id) === round; })) {
        var latest = data.rounds.filter(function (r) { return r.started_on; }).pop() || data.rounds[data.rounds.length - 1];
        round = latest ? String(latest.id) : '';
      }
      fillSelect($('round'), rounds, round);
      state.round = round;
      var buildings = data.buildings.map(function (b) { return {value: b.name, label: b.name + '（' + b.units + '户）'}; });
      var building = recall('building:' + id);
      if (!data.buildings.some(function (b) { return b.name === building; })) { building = buildings.length ? buildings[0].value : ''; }
      fillSelect($('building'), buildings, building);
      return chooseBuilding(building);
    });
  }

  function chooseBuilding(name) {
    state.building = name;
    remember('building:' + state.project, name);
    if (!name) { return Promise.resolve(); }
    return loadBuilding(state.project, name).then(function (data) {
      state.buildingData = data || null;
      if (!data) {
        $('grid-note').textContent = '本平板上没有该楼栋的数据：请联网后再选择。';
        clear($('grid'));
        return;
      }
      $('grid-note').textContent = '数据时间：' + (data.fetched_at || '').replace('T', ' ').slice(0, 16) + '。点房号进入该户。';
      var wanted = parseInt(recall('unit:' + state.project + ':' + name) || '0', 10);
      state.unitIndex = -1;
      data.units.forEach(function (u, i) { if (u.id === wanted) { state.unitIndex = i; } });
      renderGrid();
    });
  }

  // ------------------------------------------------------------------ what a unit holds

  function roundNumber(roundId) {
    var data = state.projectData;
    if (!data || !roundId) { return null; }
    var r = data.rounds.filter(function (x) { return String(x.id) === String(roundId); })[0];
    return r ? r.number : null;
  }
  function unitIssues(unitId) {
    var data = state.buildingData, chosen = roundNumber(state.round);
    if (!data) { return []; }
    var settled = (state.me && state.me.settled) || [];
    return data.issues.filter(function (i) {
      if (i.unit !== unitId || settled.indexOf(i.status) >= 0) { return false; }
      var n = roundNumber(i.round);
      return !chosen || !n || n <= chosen;
    });
  }
  function pendingOf(unitId) {
    return state.queue.filter(function (q) { return q.unit === unitId && q.project === state.project; });
  }
  function walkedToday(unitId) {
    return recall('walked:' + today() + ':' + unitId) === '1' ||
      pendingOf(unitId).some(function (q) { return q.kind === 'visit' || q.kind === 'issue'; });
  }
  function unitLevel(unitId) {
    var issues = unitIssues(unitId);
    var pending = pendingOf(unitId).filter(function (q) { return q.kind === 'issue'; });
    var count = issues.length + pending.length;
    var major = issues.some(function (i) { return i.severity === '重大'; }) ||
      pending.some(function (q) { return q.payload.severity === '重大'; });
    return {count: count, level: major ? 'major' : (count ? 'some' : 'none')};
  }

  function renderGrid() {
    var grid = $('grid'), data = state.buildingData;
    clear(grid);
    if (!data) { return; }
    var floors = {};
    data.units.forEach(function (u, i) {
      var f = u.floor == null ? 0 : u.floor;
      (floors[f] = floors[f] || []).push([u, i]);
    });
    Object.keys(floors).map(Number).sort(function (a, b) { return b - a; }).forEach(function (f) {
      var row = el('div', {className: 'floor', 'data-floor': f}, [el('span', {className: 'floor-label', text: f ? f + 'F' : '—'})]);
      floors[f].forEach(function (pair) {
        var u = pair[0], i = pair[1], level = unitLevel(u.id);
        var label = (data.units.some(function (x) { return x.entrance !== u.entrance; }) ? u.entrance + '-' : '') + u.room;
        var cell = el('button', {type: 'button', className: 'cell ' + level.level + (i === state.unitIndex ? ' current' : ''),
          'data-unit': u.id, 'aria-label': u.label + (level.count ? '，未关闭问题 ' + level.count + ' 个' : '，无问题') +
            (level.level === 'major' ? '，有重大问题' : '')},
        [el('span', {className: 'room', text: label}), el('span', {className: 'count', text: level.count ? level.count + ' 个' : '—'})]);
        if (walkedToday(u.id)) { cell.appendChild(el('span', {className: 'walked', text: '✓', title: '今日已查'})); }
        var waiting = pendingOf(u.id).length;
        if (waiting) { cell.appendChild(el('span', {className: 'pending', text: '⇡' + waiting, title: '待发送'})); }
        cell.addEventListener('click', function () { openUnit(i); });
        row.appendChild(cell);
      });
      grid.appendChild(row);
    });
  }

  function show(view) {
    ['grid-view', 'unit-view', 'add-view', 'verify-view', 'queue-view'].forEach(function (id) { $(id).hidden = id !== view; });
    $('setup').hidden = view !== 'grid-view';
    window.scrollTo(0, 0);
  }

  function currentUnit() {
    var data = state.buildingData;
    return data && state.unitIndex >= 0 ? data.units[state.unitIndex] : null;
  }

  function openUnit(index) {
    var data = state.buildingData;
    if (!data || index < 0 || index >= data.units.length) { return; }
    state.unitIndex = index;
    remember('unit:' + state.project + ':' + state.building, data.units[index].id);
    renderUnit();
    show('unit-view');
  }

  function issueLine(issue) {
    var li = el('li', {className: issue.severity === '重大' ? 'major' : '', 'data-issue': issue.id}, [
      el('div', {}, [el('span', {className: 'badge' + (issue.status === '待验证' ? ' verify' : ''), text: issue.status}), ' ',
        issue.severity === '重大' ? el('span', {className: 'badge major', text: '重大'}) : null, ' ',
        el('strong', {text: (issue.location ? issue.location + '：' : '') + issue.description})]),
      el('div', {className: 'meta', text: [issue.round_no || '轮次外', issue.category, '发现 ' + (issue.found_on || ''),
        issue.contractor, issue.deadline ? '期限 ' + issue.deadline : ''].filter(Boolean).join(' · ')})
    ]);
    return li;
  }

  function renderUnit() {
    var unit = currentUnit(), me = state.me;
    if (!unit) { return; }
    $('unit-title').textContent = unit.label;
    $('unit-layout').textContent = unit.layout || '';
    $('unit-walked').textContent = walkedToday(unit.id) ? '✓ 今日已查' : '';
    var issues = unitIssues(unit.id), pending = pendingOf(unit.id);
    var checking = pending.filter(function (q) { return q.kind === 'check'; }).map(function (q) { return q.payload.issue; });
    var verify = $('to-verify'), open = $('open-issues'), mine = $('unit-pending');
    clear(verify); clear(open); clear(mine);
    issues.forEach(function (issue) {
      var li = issueLine(issue);
      if (issue.status === '待验证') {
        if (checking.indexOf(issue.id) >= 0) {
          li.appendChild(el('div', {className: 'meta', text: '复验结果待发送'}));
        } else if (me && me.user.can_edit) {
          var pass = el('button', {type: 'button', className: 'primary', 'data-verify': 'pass', text: '通过'});
          var fail = el('button', {type: 'button', className: 'danger', 'data-verify': 'fail', text: '不通过'});
          pass.addEventListener('click', function () { openVerify(issue, '通过'); });
          fail.addEventListener('click', function () { openVerify(issue, '不通过'); });
          li.appendChild(el('div', {className: 'row-actions'}, [fail, pass]));
        }
        verify.appendChild(li);
      } else {
        open.appendChild(li);
      }
    });
    if (!verify.firstChild) { verify.appendChild(el('li', {className: 'note', text: '无'})); }
    if (!open.firstChild) { open.appendChild(el('li', {className: 'note', text: '无'})); }
    pending.forEach(function (q) { mine.appendChild(queueLine(q)); });
    if (!mine.firstChild) { mine.appendChild(el('li', {className: 'note', text: '无'})); }
    $('prev-unit').disabled = state.unitIndex <= 0;
    $('next-unit').disabled = state.unitIndex >= state.buildingData.units.length - 1;
  }

  function queueLine(q) {
    var p = q.payload, text;
    if (q.kind === 'issue') {
      text = (p.location ? p.location + '：' : '') + p.description + '（' + p.category + (p.severity === '重大' ? '，重大' : '') + '）';
    } else if (q.kind === 'check') {
      text = '复验' + p.result + '：' + (q.label || '#' + p.issue);
    } else {
      text = '本户已查 ' + (q.label || '');
    }
    var li = el('li', {className: q.state === 'waiting' || q.state === 'sending' ? 'waiting' : q.state, 'data-client-id': q.client_id});
    if (q.thumb) { li.appendChild(el('img', {className: 'thumb', src: q.thumb, alt: '照片'})); }
    li.appendChild(el('div', {}, [el('span', {className: 'badge', text: {waiting: '待发送', sending: '发送中', conflict: '冲突', refused: '未保存'}[q.state] || q.state}), ' ', el('strong', {text: text})]));
    li.appendChild(el('div', {className: 'meta', text: (q.unit_label || '') + ' · 录入于 ' + new Date(q.created_at).toLocaleString('zh-CN') +
      (q.user && state.me && q.user !== state.me.user.username ? ' · 由 ' + q.user + ' 录入' : '')}));
    if (q.message) { li.appendChild(el('div', {className: 'error', text: q.message})); }
    if (q.state === 'conflict' || q.state === 'refused') {
      var drop = el('button', {type: 'button', className: 'nav', text: '知道了，删除此条'});
      drop.addEventListener('click', function () { queueDelete(q.client_id).then(refreshQueue); });
      var actions = [drop];
      if (q.kind === 'issue') {
        var edit = el('button', {type: 'button', className: 'primary', text: '修改后重发'});
        edit.addEventListener('click', function () { editQueued(q); });
        actions.push(edit);
      } else if (q.state === 'refused') {
        var again = el('button', {type: 'button', className: 'primary', text: '重发'});
        again.addEventListener('click', function () { q.state = 'waiting'; q.message = ''; queuePut(q).then(refreshQueue).then(flush); });
        actions.push(again);
      }
      li.appendChild(el('div', {className: 'row-actions'}, actions));
    }
    return li;
  }

  // ------------------------------------------------------------------ adding an issue

  function chips(container, values, selected, onPick) {
    clear(container);
    values.forEach(function (v) {
      var b = el('button', {type: 'button', 'aria-pressed': String(v === selected), text: v});
      b.addEventListener('click', function () {
        Array.prototype.forEach.call(container.children, function (c) { c.setAttribute('aria-pressed', 'false'); });
        b.setAttribute('aria-pressed', 'true');
        onPick(v);
      });
      container.appendChild(b);
    });
  }

  function openAdd(existing) {
    var unit = currentUnit(), data = state.projectData, me = state.me;
    if (!unit || !data || !me) { return; }
    var p = existing ? existing.payload : {};
    state.form = {client_id: existing ? existing.client_id : null, location: p.location || '', category: p.category || '',
      severity: p.severity || '一般', photo: existing ? existing.photo : null, thumb: existing ? existing.thumb : null,
      created_at: existing ? existing.created_at : null};
    $('add-unit').textContent = unit.label;
    var rooms = unit.rooms || [];
    chips($('rooms'), rooms, rooms.indexOf(state.form.location) >= 0 ? state.form.location : null, function (v) { state.form.location = v; $('location').value = ''; });
    $('location').value = rooms.indexOf(state.form.location) >= 0 ? '' : state.form.location;
    chips($('categories'), me.categories, state.form.category, function (v) { state.form.category = v; proposeContractor(); renderPhrases(); });
    chips($('severities'), me.severities, state.form.severity, function (v) { state.form.severity = v; $('major-fields').hidden = v !== '重大'; });
    $('major-fields').hidden = state.form.severity !== '重大';
    $('description').value = p.description || '';
    ['rectification_plan', 'deadline', 'responsible_person', 'penalty'].forEach(function (n) { $(n).value = p[n] || ''; });
    var options = [{value: '', label: '（暂不指定）'}].concat(data.contractors.map(function (c) { return {value: c.id, label: c.name + '（' + c.kind + '）'}; }));
    fillSelect($('contractor'), options, p.contractor || '');
    $('photo').value = '';
    setPreview($('photo-preview'), state.form.thumb);
    $('photo-size').textContent = state.form.photo ? '已压缩 ' + Math.round(state.form.photo.size / 1024) + ' KB' : '';
    $('form-error').textContent = '';
    renderPhrases();
    show('add-view');
  }
  function proposeContractor() {
    var data = state.projectData, id = data && data.contractor_by_category[state.form.category];
    if (id && !$('contractor').dataset.touched) { $('contractor').value = String(id); }
  }
  function renderPhrases() {
    var data = state.projectData, phrases = (data && (data.phrases[state.form.category] || data.phrases[''])) || [];
    var box = $('phrases');
    clear(box);
    phrases.slice(0, 8).forEach(function (text) {
      var b = el('button', {type: 'button', text: text});
      b.addEventListener('click', function () { $('description').value = text; });
      box.appendChild(b);
    });
  }
  function setPreview(img, src) {
    if (src) { img.src = src; img.hidden = false; } else { img.removeAttribute('src'); img.hidden = true; }
  }

  // The photo: decoded, scaled to MAX_SIDE, re-encoded as JPEG; a thumbnail as a data: URL (the
  // portal's Content-Security-Policy allows data: images, not blob: ones).
  function compress(file) {
    var decode = window.createImageBitmap ? createImageBitmap(file, {imageOrientation: 'from-image'}).catch(function () { return createImageBitmap(file); })
      : Promise.reject(new Error('no createImageBitmap'));
    return decode.then(function (bitmap) {
      var scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
      var canvas = document.createElement('canvas');
      canvas.width = Math.max(1, Math.round(bitmap.width * scale));
      canvas.height = Math.max(1, Math.round(bitmap.height * scale));
      canvas.getContext('2d').drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      var thumb = document.createElement('canvas'), tscale = 160 / Math.max(canvas.width, canvas.height);
      thumb.width = Math.max(1, Math.round(canvas.width * tscale));
      thumb.height = Math.max(1, Math.round(canvas.height * tscale));
      thumb.getContext('2d').drawImage(canvas, 0, 0, thumb.width, thumb.height);
      return new Promise(function (resolve) {
        canvas.toBlob(function (blob) { resolve({blob: blob, thumb: thumb.toDataURL('image/jpeg', 0.6)}); }, 'image/jpeg', QUALITY);
      });
    });
  }

  function takePhoto(input, preview, target, sizeLabel) {
    var file = input.files && input.files[0];
    if (!file) { return Promise.resolve(); }
    var started = performance.now();
    return compress(file).then(function (out) {
      target.photo = out.blob;
      target.thumb = out.thumb;
      setPreview(preview, out.thumb);
      if (sizeLabel) { sizeLabel.textContent = '已压缩 ' + Math.round(file.size / 1024) + ' KB → ' + Math.round(out.blob.size / 1024) + ' KB'; }
      window.__inspectLastCompressMs = performance.now() - started;
    }, function () {
      target.photo = file;          // cannot decode here: sent as taken (the portal checks it)
      target.thumb = null;
      if (sizeLabel) { sizeLabel.textContent = '照片 ' + Math.round(file.size / 1024) + ' KB（未能压缩）'; }
    });
  }

  function saveIssue(event) {
    event.preventDefault();
    var unit = currentUnit(), f = state.form;
    var location = $('location').value.trim() || f.location;
    var description = $('description').value.trim();
    var problems = [];
    if (!location) { problems.push('请选择或填写部位'); }
    if (!f.category) { problems.push('请选择问题类别'); }
    if (!description) { problems.push('请填写问题描述'); }
    var payload = {kind: 'issue', project: state.project, round: state.round || null, unit: unit.id,
      location: location, category: f.category, severity: f.severity, description: description,
      contractor: $('contractor').value || null, found_on: today()};
    if (f.severity === '重大') {
      var labels = {rectification_plan: '整改措施', deadline: '整改期限', responsible_person: '责任人', penalty: '处罚措施'};
      Object.keys(labels).forEach(function (n) {
        payload[n] = $(n).value.trim();
        if (!payload[n]) { problems.push('重大问题须填写' + labels[n]); }
      });
    }
    if (problems.length) { $('form-error').textContent = problems.join('；') + '。'; return; }
    var item = {client_id: f.client_id || uuid(), kind: 'issue', state: 'waiting', message: '',
      user: state.me.user.username, project: state.project, building: state.building, unit: unit.id,
      unit_label: unit.label, payload: payload, photo: f.photo || null, thumb: f.thumb || null,
      created_at: f.created_at || Date.now()};
    payload.client_id = item.client_id;
    queuePut(item).then(function () {
      state.form = null;
      toast('已保存在平板上' + (state.online ? '，正在发送……' : '，联网后自动发送。'));
      return refreshQueue();
    }).then(function () { renderUnit(); show('unit-view'); flush(); });
  }

  function editQueued(q) {
    var data = state.buildingData;
    show('unit-view');
    if (!data || q.building !== state.building || String(q.project) !== String(state.project)) {
      toast('请先选择该条目所在的项目和楼栋（' + (q.unit_label || '') + '）。');
      return;
    }
    data.units.forEach(function (u, i) { if (u.id === q.unit) { state.unitIndex = i; } });
    renderUnit();
    q.state = 'waiting';
    openAdd(q);
  }

  // ------------------------------------------------------------------ verifying

  function openVerify(issue, result) {
    state.verify = {issue: issue, result: result, photo: null, thumb: null};
    $('verify-title').textContent = currentUnit().label;
    $('verify-issue').textContent = (issue.location ? issue.location + '：' : '') + issue.description + '（' + issue.status + '）';
    $('verify-photo').value = '';
    $('verify-note').value = '';
    $('verify-error').textContent = '';
    setPreview($('verify-preview'), null);
    $('verify-pass').hidden = result !== '通过';
    $('verify-fail').hidden = result !== '不通过';
    show('verify-view');
  }
  function saveVerify(result) {
    var v = state.verify, unit = currentUnit(), note = $('verify-note').value.trim();
    if (result === '不通过' && !note) { $('verify-error').textContent = '请写明不通过的原因。'; return; }
    var item = {client_id: uuid(), kind: 'check', state: 'waiting', message: '', user: state.me.user.username,
      project: state.project, building: state.building, unit: unit.id, unit_label: unit.label,
      label: (v.issue.location ? v.issue.location + '：' : '') + v.issue.description,
      payload: {kind: 'check', issue: v.issue.id, version: v.issue.version, seen_status: v.issue.status,
        result: result, note: note, checked_on: today(), round: state.round || null},
      photo: v.photo, thumb: v.thumb, created_at: Date.now()};
    item.payload.client_id = item.client_id;
    queuePut(item).then(function () {
      state.verify = null;
      toast('复验结果已保存在平板上' + (state.online ? '，正在发送……' : '，联网后自动发送。'));
      return refreshQueue();
    }).then(function () { renderUnit(); show('unit-view'); flush(); });
  }

  function markWalked() {
    var unit = currentUnit();
    if (!unit) { return Promise.resolve(); }
    remember('walked:' + today() + ':' + unit.id, '1');
    var item = {client_id: uuid(), kind: 'visit', state: 'waiting', message: '', user: state.me.user.username,
      project: state.project, building: state.building, unit: unit.id, unit_label: unit.label, label: unit.label,
      payload: {kind: 'visit', project: state.project, round: state.round || null, unit: unit.id, visited_on: today()},
      photo: null, thumb: null, created_at: Date.now()};
    item.payload.client_id = item.client_id;
    return queuePut(item).then(refreshQueue).then(flush);
  }

  // ------------------------------------------------------------------ the queue and sending

  function refreshQueue() {
    return queueAll().then(function (rows) {
      state.queue = rows;
      var waiting = rows.filter(function (q) { return q.state === 'waiting' || q.state === 'sending'; }).length;
      var problems = rows.filter(function (q) { return q.state === 'conflict' || q.state === 'refused'; }).length;
      $('queue-count').textContent = String(waiting);
      $('queue-button').setAttribute('data-waiting', String(waiting));
      $('problem-count').hidden = !problems;
      $('problem-count').textContent = problems ? '需处理 ' + problems : '';
      if (!$('queue-view').hidden) { renderQueue(); }
      if (!$('grid-view').hidden) { renderGrid(); }
    });
  }
  function renderQueue() {
    var list = $('queue-list');
    clear(list);
    state.queue.forEach(function (q) { list.appendChild(queueLine(q)); });
    if (!list.firstChild) { list.appendChild(el('li', {className: 'note', text: '没有待发送的内容。'})); }
  }

  function ensureToken() {
    if (state.csrf) { return Promise.resolve(state.csrf); }
    return api('/inspect/api/me').then(function (r) {
      if (r.status === 200) { state.me = r.body; cachePut('me', r.body); }
      return state.csrf;
    });
  }

  function send(item) {
    var body = new FormData();
    body.append('item', JSON.stringify(item.payload));
    if (item.photo) { body.append('photo', item.photo, 'photo.jpg'); }
    return fetch('/inspect/api/items', {method: 'POST', credentials: 'same-origin', body: body,
      headers: {'X-CSRFToken': state.csrf || '', 'Accept': 'application/json'}})
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (answer) {
          if (answer && answer.csrf) { state.csrf = answer.csrf; }
          return {status: response.status, answer: answer || {}};
        });
      });
  }

  // What a stored item changes in the building's copy kept here.
  function applyAnswer(item, answer) {
    var data = state.buildingData, issue = answer.issue;
    if (!data || !issue || item.building !== state.building || String(item.project) !== String(state.project)) { return Promise.resolve(); }
    data.issues = data.issues.filter(function (i) { return i.id !== issue.id; });
    data.issues.push(issue);
    return saveBuildingCache();
  }

  function flush() {
    if (state.sending || !state.me) { return Promise.resolve(); }
    state.sending = true;
    var me = state.me.user.username, sent = 0;
    function next() {
      return queueAll().then(function (rows) {
        var item = rows.filter(function (q) { return q.state === 'waiting' && q.user === me; })[0];
        if (!item) { return 'done'; }
        return ensureToken().then(function () { return send(item); }).then(function (r) {
          if (r.status === 200 && r.answer.ok) {
            sent += 1;
            return applyAnswer(item, r.answer).then(function () { return queueDelete(item.client_id); }).then(next);
          }
          if (r.status === 401) { askLogin(); return 'login'; }
          if (r.status === 403 && r.answer.state === 'token') {
            state.csrf = r.answer.csrf || null;
            return send(item).then(function (again) {
              if (again.status === 200 && again.answer.ok) {
                sent += 1;
                return applyAnswer(item, again.answer).then(function () { return queueDelete(item.client_id); }).then(next);
              }
              return keep(item, again).then(next);
            });
          }
          if (r.status >= 500) { return 'later'; }
          return keep(item, r).then(next);
        }, function () { return 'later'; });
      });
    }
    function keep(item, r) {
      item.state = r.status === 409 ? 'conflict' : 'refused';
      item.message = (r.answer && r.answer.message) || ('未保存（' + r.status + '）。');
      return queuePut(item).then(function () { toast(item.message); });
    }
    return next().then(function (how) {
      state.sending = false;
      if (sent) { toast('已发送 ' + sent + ' 条。'); }
      return refreshQueue().then(function () {
        if (!$('unit-view').hidden) { renderUnit(); }
        if (how === 'done' && sent) { banner(''); }
        return how;
      });
    }, function () { state.sending = false; });
  }

  // ------------------------------------------------------------------ an ended session

  function askLogin() {
    if (state.loginAsked) { return; }
    state.loginAsked = true;
    var me = state.me && state.me.user;
    $('login-text').textContent = '登录已过期。请输入' + (me ? '「' + me.name + '」（' + me.username + '）' : '') +
      '的密码，登录后将继续发送平板上暂存的内容。';
    $('login-error').textContent = '';
    $('login-box').hidden = false;
    $('login-password').focus();
  }
  function login(event) {
    event.preventDefault();
    var me = state.me && state.me.user, password = $('login-password').value;
    if (!me) { location.href = '/login?next=/inspect/'; return; }
    if (!password) { $('login-error').textContent = '请输入密码。'; return; }
    var post = function () {
      return fetch('/inspect/api/login', {method: 'POST', credentials: 'same-origin',
        headers: {'Content-Type': 'application/json', 'X-CSRFToken': state.csrf || '', 'Accept': 'application/json'},
        body: JSON.stringify({username: me.username, password: password})})
        .then(function (response) {
          return response.json().catch(function () { return {}; }).then(function (body) {
            if (body.csrf) { state.csrf = body.csrf; }
            return {status: response.status, body: body};
          });
        });
    };
    var go = state.csrf ? Promise.resolve() : api('/inspect/api/me');
    go.then(post).then(function (r) {
      if (r.status === 403 && r.body.state === 'token') { return post(); }
      return r;
    }).then(function (r) {
      if (r.status === 200 && r.body.ok) {
        $('login-password').value = '';
        $('login-box').hidden = true;
        state.loginAsked = false;
        toast('已重新登录，继续发送……');
        return loadMe().then(flush);
      }
      $('login-error').textContent = r.body.message || '登录失败。';
    }, function () { $('login-error').textContent = '无法连接服务器：请联网后再试。'; });
  }

  // ------------------------------------------------------------------ connection

  function setOnline(online) {
    state.online = online;
    var net = $('net');
    net.textContent = online ? '在线' : '离线';
    net.setAttribute('data-state', online ? 'online' : 'offline');
    if (online) {
      banner('');
      flush().then(function () {
        if (state.project && state.building && !state.sending) {
          return loadBuilding(state.project, state.building).then(function (data) {
            if (data) { state.buildingData = data; if (!$('grid-view').hidden) { renderGrid(); } else if (!$('unit-view').hidden) { renderUnit(); } }
          });
        }
      });
    } else {
      banner('当前无网络：录入的问题、照片和复验结果保存在本平板上，联网后自动发送。');
    }
  }

  // ------------------------------------------------------------------ wiring

  function init() {
    $('project').addEventListener('change', function () { chooseProject(this.value); });
    $('round').addEventListener('change', function () {
      state.round = this.value;
      remember('round:' + state.project, this.value);
      renderGrid();
    });
    $('building').addEventListener('change', function () { chooseBuilding(this.value); });
    $('to-grid').addEventListener('click', function () { renderGrid(); show('grid-view'); });
    $('prev-unit').addEventListener('click', function () { openUnit(state.unitIndex - 1); });
    $('next-unit').addEventListener('click', function () { openUnit(state.unitIndex + 1); });
    $('walked-next').addEventListener('click', function () {
      markWalked().then(function () {
        if (state.unitIndex < state.buildingData.units.length - 1) { openUnit(state.unitIndex + 1); } else { renderUnit(); toast('本楼栋最后一户已查。'); }
      });
    });
    $('add-issue').addEventListener('click', function () { openAdd(null); });
    $('cancel-issue').addEventListener('click', function () { state.form = null; show('unit-view'); });
    $('issue-form').addEventListener('submit', saveIssue);
    $('contractor').addEventListener('change', function () { this.dataset.touched = '1'; });
    $('photo').addEventListener('change', function () { takePhoto(this, $('photo-preview'), state.form, $('photo-size')); });
    $('verify-photo').addEventListener('change', function () { takePhoto(this, $('verify-preview'), state.verify, null); });
    $('cancel-verify').addEventListener('click', function () { state.verify = null; show('unit-view'); });
    $('verify-pass').addEventListener('click', function () { saveVerify('通过'); });
    $('verify-fail').addEventListener('click', function () { saveVerify('不通过'); });
    $('queue-button').addEventListener('click', function () { renderQueue(); show('queue-view'); });
    $('close-queue').addEventListener('click', function () { show(currentUnit() ? 'unit-view' : 'grid-view'); if (currentUnit()) { renderUnit(); } else { renderGrid(); } });
    $('send-now').addEventListener('click', function () {
      queueAll().then(function (rows) {
        return Promise.all(rows.filter(function (q) { return q.state === 'sending'; }).map(function (q) { q.state = 'waiting'; return queuePut(q); }));
      }).then(flush);
    });
    $('login-form').addEventListener('submit', login);
    $('login-later').addEventListener('click', function () { $('login-box').hidden = true; state.loginAsked = false; });
    window.addEventListener('online', function () { setOnline(true); });
    window.addEventListener('offline', function () { setOnline(false); });
    setInterval(function () { if (navigator.onLine) { flush(); } }, RETRY_MS);
    if ('serviceWorker' in navigator) {
      navigator.serviceWorker.register('/inspect/sw.js', {scope: '/inspect/'}).catch(function () { /* served without one */ });
    }
    setOnline(navigator.onLine);
    window.inspectReady = refreshQueue().then(start).then(refreshQueue).then(function () {
      document.body.setAttribute('data-ready', '1');
      if (navigator.onLine) { return flush(); }
    }, function (exc) {
      banner('本页未能载入：' + exc, true);
      document.body.setAttribute('data-ready', 'error');
    });
  }
  if (document.readyState === 'loading') { document.addEventListener('DOMContentLoaded', init); } else { init(); }
})();
