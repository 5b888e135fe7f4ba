// unitwin run report: chart export, the replay, and a self-test (open the page with #selftest).
(function () {
  'use strict';
  var problems = [];
  window.addEventListener('error', function (e) { problems.push(String(e.message)); });
  var consoleError = console.error;
  console.error = function () {
    problems.push(Array.prototype.join.call(arguments, ' '));
    return consoleError.apply(console, arguments);
  };

  // ---- Chart export: the inline SVG as a file, or drawn onto a canvas as PNG. ----
  function download(blob, name) {
    var a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = name;
    document.body.appendChild(a);
    a.click();
    setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
  }
  function svgBlob(figure) {
    var text = new XMLSerializer().serializeToString(figure.querySelector('svg'));
    return new Blob([text], { type: 'image/svg+xml;charset=utf-8' });
  }
  // Renders a figure's SVG to a PNG blob at twice its size; calls done(blob) or done(null).
  function pngOf(figure, done) {
    var svg = figure.querySelector('svg');
    var box = svg.viewBox.baseVal;
    var url = URL.createObjectURL(svgBlob(figure));
    var img = new Image();
    img.onload = function () {
      var canvas = document.createElement('canvas');
      canvas.width = Math.round(box.width * 2);
      canvas.height = Math.round(box.height * 2);
      var g = canvas.getContext('2d');
      g.fillStyle = '#ffffff';
      g.fillRect(0, 0, canvas.width, canvas.height);
      g.drawImage(img, 0, 0, canvas.width, canvas.height);
      URL.revokeObjectURL(url);
      // toDataURL encodes on this thread: toBlob's off-thread encoding is not waited for by a headless
      // browser's virtual time, so the self-test could report before the PNG existed.
      var bytes = atob(canvas.toDataURL('image/png').split(',')[1]);
      var array = new Uint8Array(bytes.length);
      for (var i = 0; i < bytes.length; i++) { array[i] = bytes.charCodeAt(i); }
      done(array.length > 0 ? new Blob([array], { type: 'image/png' }) : null);
    };
    img.onerror = function () { URL.revokeObjectURL(url); done(null); };
    img.src = url;
  }
  document.querySelectorAll('button[data-export]').forEach(function (button) {
    button.addEventListener('click', function () {
      var figure = button.closest('figure');
      if (button.getAttribute('data-export') === 'svg') {
        download(svgBlob(figure), figure.id + '.svg');
      } else {
        pngOf(figure, function (png) {
          if (png) { download(png, figure.id + '.png'); } else { console.error('could not draw ' + figure.id + ' as PNG'); }
        });
      }
    });
  });

  // ---- Replay: frames decoded from the embedded binary (u16 x, u16 y, u8 level, u8 LoS per agent). ----
  var plan = JSON.parse(document.getElementById('plan-data').textContent);
  var head = JSON.parse(document.getElementById('replay-header').textContent);
  var raw = atob(document.getElementById('replay-data').textContent.trim());
  var bytes = new Uint8Array(raw.length);
  for (var i = 0; i < raw.length; i++) { bytes[i] = raw.charCodeAt(i); }
  var data = new DataView(bytes.buffer);
  var starts = [];
  var total = 0;
  head.n.forEach(function (n) { starts.push(total); total += n; });

  var canvas = document.getElementById('replay-canvas');
  var ctx = canvas.getContext('2d');
  var scrub = document.getElementById('scrub');
  var playButton = document.getElementById('play');
  var speedSelect = document.getElementById('speed');
  var floorSelect = document.getElementById('floor');
  var clock = document.getElementById('clock');
  var onSite = document.getElementById('onsite');
  var frame = 0;
  var now = head.t.length ? head.t[0] : 0;
  // The canvas takes the plan's proportions (within 240–700 px of height).
  var planW = Math.max(plan.max[0] - plan.min[0], 1), planH = Math.max(plan.max[1] - plan.min[1], 1);
  canvas.height = Math.round(Math.max(240, Math.min(700, (canvas.width - 24) * planH / planW + 24)));
  var timer = null;

  // Fit the chosen level's walkable space into the canvas, north up.
  function view(floor) {
    var f = plan.floors[floor];
    var lo = [Infinity, Infinity], hi = [-Infinity, -Infinity];
    (f ? f.walk : []).forEach(function (ring) {
      for (var k = 0; k < ring.length; k += 2) {
        lo[0] = Math.min(lo[0], ring[k]); hi[0] = Math.max(hi[0], ring[k]);
        lo[1] = Math.min(lo[1], ring[k + 1]); hi[1] = Math.max(hi[1], ring[k + 1]);
      }
    });
    if (!isFinite(lo[0])) { lo = plan.min; hi = plan.max; }
    var pad = 12;
    var s = Math.min((canvas.width - 2 * pad) / Math.max(hi[0] - lo[0], 1), (canvas.height - 2 * pad) / Math.max(hi[1] - lo[1], 1));
    return { s: s, x: function (x) { return pad + (x - lo[0]) * s; }, y: function (y) { return canvas.height - pad - (y - lo[1]) * s; } };
  }

  function draw() {
    var floor = Number(floorSelect.value || 0);
    var v = view(floor);
    var f = plan.floors[floor];
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    if (f) {
      ctx.beginPath();
      f.walk.forEach(function (ring) {
        for (var k = 0; k < ring.length; k += 2) {
          if (k === 0) { ctx.moveTo(v.x(ring[k]), v.y(ring[k + 1])); } else { ctx.lineTo(v.x(ring[k]), v.y(ring[k + 1])); }
        }
        ctx.closePath();
      });
      ctx.fillStyle = '#eeeeee';
      ctx.fill('evenodd');
      ctx.strokeStyle = '#444444';
      ctx.lineWidth = 1;
      ctx.beginPath();
      for (var w = 0; w < f.walls.length; w += 4) {
        ctx.moveTo(v.x(f.walls[w]), v.y(f.walls[w + 1]));
        ctx.lineTo(v.x(f.walls[w + 2]), v.y(f.walls[w + 3]));
      }
      ctx.stroke();
      ctx.strokeStyle = '#1b7837';
      ctx.lineWidth = 4;
      ctx.beginPath();
      for (var e = 0; e < f.exits.length; e += 4) {
        ctx.moveTo(v.x(f.exits[e]), v.y(f.exits[e + 1]));
        ctx.lineTo(v.x(f.exits[e + 2]), v.y(f.exits[e + 3]));
      }
      ctx.stroke();
    }
    var r = Math.max(1.5, 0.21 * v.s);
    if (frame < head.n.length) {
      for (var a = starts[frame], end = a + head.n[frame]; a < end; a++) {
        var o = a * 6;
        if (bytes[o + 4] !== floor) { continue; }
        var x = head.x0 + data.getUint16(o, true) * head.q;
        var y = head.y0 + data.getUint16(o + 2, true) * head.q;
        ctx.fillStyle = head.losColours[bytes[o + 5]] || '#000000';
        ctx.beginPath();
        ctx.arc(v.x(x), v.y(y), r, 0, 2 * Math.PI);
        ctx.fill();
      }
    }
    var t = head.t.length ? head.t[frame] : 0;
    clock.textContent = 't = ' + t.toFixed(1) + ' s';
    onSite.textContent = (head.onSite[frame] || 0) + ' on site';
    scrub.value = String(frame);
  }

  function show(index) {
    frame = Math.max(0, Math.min(head.t.length - 1, index));
    now = head.t.length ? head.t[frame] : 0;
    draw();
  }

  function tick() {
    var dt = 0.05 * Number(speedSelect.value);
    now += dt;
    while (frame + 1 < head.t.length && head.t[frame + 1] <= now) { frame++; }
    draw();
    if (frame + 1 >= head.t.length) { pause(); }
  }
  function play() {
    if (timer !== null) { return; }
    if (frame + 1 >= head.t.length) { show(0); }
    timer = setInterval(tick, 50);
    playButton.textContent = 'Pause';
  }
  function pause() {
    if (timer !== null) { clearInterval(timer); timer = null; }
    playButton.textContent = 'Play';
  }
  playButton.addEventListener('click', function () { if (timer === null) { play(); } else { pause(); } });
  scrub.addEventListener('input', function () { show(Number(scrub.value)); });
  floorSelect.addEventListener('change', draw);
  show(0);

  // ---- Self-test (#selftest): play, then write what the page shows into #selftest for a test to read. ----
  if (location.hash === '#selftest') {
    var startFrame = frame;
    speedSelect.value = '10';
    play();
    var firstChart = document.querySelector('figure.chart');
    var pngResult = firstChart ? 'pending' : 'no chart';
    var advancedTo = null;
    // The status is written once both the replay has played and the PNG export has answered.
    if (firstChart) {
      pngOf(firstChart, function (png) { pngResult = png && png.size > 0 ? 'ok' : 'failed'; writeStatus(); });
    }
    setTimeout(function () {
      advancedTo = frame;
      pause();
      writeStatus();
    }, 1500);
  }
  function writeStatus() {
    if (advancedTo === null || pngResult === 'pending' || document.getElementById('selftest')) { return; }
    // Count the pixels painted in a LoS colour at the busiest frame: the agents drawn.
    var busiest = 0;
    head.n.forEach(function (n, k) { if (n > head.n[busiest]) { busiest = k; } });
    show(busiest);
    var colours = head.losColours.map(function (c) { return [1, 3, 5].map(function (k) { return parseInt(c.substr(k, 2), 16); }); });
    var image = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    var agentPixels = 0;
    for (var p = 0; p < image.length; p += 4) {
      for (var c = 0; c < colours.length; c++) {
        if (image[p] === colours[c][0] && image[p + 1] === colours[c][1] && image[p + 2] === colours[c][2]) { agentPixels++; break; }
      }
    }
    var out = document.createElement('div');
    out.id = 'selftest';
    out.setAttribute('data-errors', String(problems.length));
    out.setAttribute('data-messages', problems.join(' | '));
    out.setAttribute('data-frame-start', String(startFrame));
    out.setAttribute('data-frame-now', String(advancedTo));
    out.setAttribute('data-frame-advanced', advancedTo > startFrame ? '1' : '0');
    out.setAttribute('data-busiest-frame', String(busiest));
    out.setAttribute('data-frames', String(head.t.length));
    out.setAttribute('data-last-on-site', String(head.onSite[head.onSite.length - 1] || 0));
    out.setAttribute('data-coloured-pixels', String(agentPixels));
    out.setAttribute('data-svg-export', new XMLSerializer().serializeToString(document.querySelector('figure.chart svg')).indexOf('<svg') === 0 ? 'ok' : 'failed');
    out.setAttribute('data-png-export', pngResult);
    document.querySelectorAll('[data-figure]').forEach(function (el) {
      var item = document.createElement('span');
      item.setAttribute('data-name', el.getAttribute('data-figure'));
      item.setAttribute('data-value', el.getAttribute('data-value') || '');
      item.setAttribute('data-text', el.textContent);
      out.appendChild(item);
    });
    document.body.appendChild(out);
  }
})();
