/* 现场验收's service worker (scope /inspect/): keeps the page and its own files so the walk opens
   and works with no connection. Pages are asked from the network first (a signed-out tablet
   gets the login page, a new version is taken at once) and answered from the copy kept here
   when there is no connection. The API is never answered from here: the page keeps its data in
   IndexedDB itself and queues what it sends. Everything comes from the portal, nothing from a CDN. */
'use strict';
var CACHE = 'kefu-inspect-v1';
var SHELL = ['/inspect/', '/static/inspect/inspect.js', '/static/inspect/inspect.css',
  '/static/inspect/icon-192.png', '/static/favicon.svg', '/inspect/manifest.webmanifest'];

self.addEventListener('install', function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) {
    return Promise.all(SHELL.map(function (url) {
      return fetch(url, {credentials: 'same-origin', redirect: 'follow'}).then(function (response) {
        if (response.ok && !response.redirected) { return cache.put(url, response); }
      }).catch(function () { /* kept at the next visit */ });
    }));
  }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener('activate', function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (n) { return n.indexOf('kefu-inspect-') === 0 && n !== CACHE; })
      .map(function (n) { return caches.delete(n); }));
  }).then(function () { return self.clients.claim(); }));
});

function keep(key, response) {
  if (response && response.ok && !response.redirected && response.type === 'basic') {
    var copy = response.clone();
    caches.open(CACHE).then(function (cache) { cache.put(key, copy); });
  }
  return response;
}

self.addEventListener('fetch', function (event) {
  var request = event.request, url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== self.location.origin) { return; }
  if (url.pathname.indexOf('/inspect/api/') === 0) { return; }
  var page = request.mode === 'navigate' && url.pathname.indexOf('/inspect/') === 0 &&
    url.pathname.indexOf('/inspect/day') !== 0;
  var own = SHELL.indexOf(url.pathname) >= 0;
  if (!page && !own) { return; }
  var key = page ? '/inspect/' : url.pathname;
  event.respondWith(fetch(request).then(function (response) {
    return keep(key, response);
  }, function () {
    return caches.match(key).then(function (kept) {
      return kept || new Response('<!doctype html><meta charset="utf-8"><title>现场验收</title>' +
        '<p>当前无网络，且本平板尚未保存现场验收页面：请联网后打开一次。</p>',
        {status: 503, headers: {'Content-Type': 'text/html; charset=utf-8'}});
    });
  }));
});
