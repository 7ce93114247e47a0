/* 客服台账 — progress of background jobs: every element with data-job-url whose data-job-state is
   排队中 or 运行中 is refreshed from /jobs/<id>.json every 1.5 s until the job ends. */
(function () {
  'use strict';
  var OPEN = {'排队中': true, '运行中': true};

  function render(el, job) {
    el.setAttribute('data-job-state', job.state);
    var bar = el.querySelector('.progress-bar');
    if (bar) {
      bar.style.width = job.percent + '%';
      bar.textContent = job.done + (job.total ? ' / ' + job.total : '');
      bar.parentNode.setAttribute('aria-valuenow', job.percent);
    }
    var state = el.querySelector('.job-state');
    if (state) { state.textContent = job.state; }
    var result = el.querySelector('.job-result');
    if (result && !OPEN[job.state]) {
      result.textContent = job.error || job.result || '';
      if (job.error) { result.className += ' text-danger'; }
      if (job.download) {
        var a = document.createElement('a');
        a.href = job.download; a.textContent = ' 下载';
        result.appendChild(a);
      }
    }
  }

  function poll(el) {
    var xhr = new XMLHttpRequest();
    xhr.open('GET', el.getAttribute('data-job-url'));
    xhr.onload = function () {
      if (xhr.status !== 200) { return; }
      var job = JSON.parse(xhr.responseText);
      render(el, job);
      var done = el.querySelector('.job-done');
      if (done) { done.textContent = job.done; }
      if (OPEN[job.state]) {
        setTimeout(function () { poll(el); }, 1500);
      } else if (el.getAttribute('data-reload')) {
        window.location.reload();      // the page shows the job's outcome
      }
    };
    xhr.send();
  }

  var items = document.querySelectorAll('[data-job-url]');
  for (var i = 0; i < items.length; i++) {
    if (OPEN[items[i].getAttribute('data-job-state')]) { poll(items[i]); }
  }
})();
