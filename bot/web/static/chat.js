// The web chat: each message (or a button's payload) goes to POST /api/chat and the
// replies are drawn with textContent only, so nothing in a message ever runs as HTML.
(function () {
  "use strict";

  // The page's own words; what the assistant says comes from the server (flows/responses).
  var TEXT = {
    serverError: "Xin lỗi, máy chủ đang gặp trục trặc. Bạn bấm “Thử lại” sau giây lát nhé.",
    offline: "Không kết nối được máy chủ. Bạn kiểm tra mạng rồi bấm “Thử lại” nhé.",
    retry: "Thử lại"
  };
  var TIMEOUT_MS = 30000;

  var main = document.getElementById("chat");
  var log = document.getElementById("log");
  var typing = document.getElementById("typing");
  var form = document.getElementById("composer");
  var input = document.getElementById("text");
  var sendButton = document.getElementById("send");
  var restartButton = document.getElementById("restart");

  var busy = false;
  var epoch = 0; // bumped by "Bắt đầu lại", so an answer to the old conversation is dropped

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function addMessage(kind, text) {
    var li = element("li", "msg " + kind);
    li.appendChild(element("div", "text", text));
    log.appendChild(li);
    return li;
  }

  function safeUrl(url) {
    try {
      var u = new URL(String(url), window.location.href);
      return (u.protocol === "https:" || u.protocol === "http:") ? u.href : null;
    } catch (e) { return null; }
  }

  function checklist(items) {
    var ul = element("ul", "checklist");
    items.forEach(function (item) {
      var label = element("label");
      var box = element("input");
      var mark = element("span", "mark", item.done ? "☑" : "☐");
      box.type = "checkbox";
      box.className = "visually-hidden";
      box.checked = !!item.done;
      mark.setAttribute("aria-hidden", "true");
      box.addEventListener("change", function () {
        mark.textContent = box.checked ? "☑" : "☐";
        label.classList.toggle("done", box.checked);
      });
      label.classList.toggle("done", box.checked);
      label.appendChild(box);
      label.appendChild(mark);
      label.appendChild(element("span", "", String(item.text)));
      var li = element("li");
      li.appendChild(label);
      ul.appendChild(li);
    });
    return ul;
  }

  function links(list) {
    var div = element("div", "links");
    list.forEach(function (link) {
      var href = safeUrl(link.url);
      if (!href) { return; }
      var a = element("a", "", String(link.title || href));
      a.href = href;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      div.appendChild(a);
    });
    return div;
  }

  function buttons(list) {
    var div = element("div", "buttons");
    list.forEach(function (b) {
      var button = element("button", "", String(b.title));
      button.type = "button";
      button.addEventListener("click", function () { send(String(b.payload), String(b.title)); });
      div.appendChild(button);
    });
    return div;
  }

  function showReply(reply) {
    var li = addMessage("bot", String(reply.text || ""));
    if (reply.checklist && reply.checklist.length) { li.appendChild(checklist(reply.checklist)); }
    if (reply.links && reply.links.length) { li.appendChild(links(reply.links)); }
    if (reply.buttons && reply.buttons.length) { li.appendChild(buttons(reply.buttons)); }
    return li;
  }

  function setBusy(on) {
    busy = on;
    sendButton.disabled = on;
    typing.hidden = !on;
    log.setAttribute("aria-busy", on ? "true" : "false");
    if (on) { main.scrollTop = main.scrollHeight; }
  }

  // Long answers are read from their first line. (Not scrollIntoView: in Chromium it also moves where Tab starts.)
  function showTop(li) {
    main.scrollTop += li.getBoundingClientRect().top - main.getBoundingClientRect().top - 8;
  }

  function failed(text, message) {
    var li = addMessage("error", message);
    var retry = element("button", "retry", TEXT.retry);
    retry.type = "button";
    retry.addEventListener("click", function () {
      if (busy) { return; }
      li.remove();
      input.focus();
      ask(text);
    });
    li.appendChild(retry);
    main.scrollTop = main.scrollHeight;
  }

  // One request in flight at a time: the send button is disabled and presses are ignored until it ends.
  function ask(text) {
    var mine = epoch;
    var controller = window.AbortController ? new AbortController() : null;
    var timer = controller ? setTimeout(function () { controller.abort(); }, TIMEOUT_MS) : null;
    setBusy(true);
    fetch("/api/chat", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      credentials: "same-origin", // the server's session cookie says who is talking; the page never does
      body: JSON.stringify({ text: text }),
      signal: controller ? controller.signal : undefined
    }).then(function (response) {
      return response.json().then(
        function (body) { return { status: response.status, body: body }; },
        function () { return { status: response.status, body: null }; }
      );
    }).then(function (result) {
      if (mine !== epoch) { return; }
      setBusy(false);
      var body = result.body;
      if (result.status === 200 && body && Array.isArray(body.replies)) {
        var first = null;
        body.replies.forEach(function (reply) { var li = showReply(reply); first = first || li; });
        if (first) { showTop(first); }
      } else if (result.status === 400 && body && body.error) {
        addMessage("error", String(body.error)); // the message itself was at fault: retrying would not help
      } else {
        failed(text, TEXT.serverError);
      }
    }, function () {
      if (mine !== epoch) { return; }
      setBusy(false);
      failed(text, TEXT.offline);
    }).then(function () { if (timer) { clearTimeout(timer); } });
  }

  function send(text, shown, quiet) {
    if (busy) { return false; }
    if (!quiet) {
      addMessage("me", shown || text);
      main.scrollTop = main.scrollHeight;
    }
    ask(text);
    return true;
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text || busy) { return; }
    input.value = "";
    send(text);
  });

  // A fresh conversation for the next person at the desk: a new session from the server, an empty page, the menu.
  restartButton.addEventListener("click", function () {
    epoch += 1;
    var mine = epoch;
    setBusy(true);
    log.textContent = "";
    input.value = "";
    fetch("/api/session", { method: "POST", credentials: "same-origin" }).then(function (response) {
      if (mine !== epoch) { return; }
      setBusy(false);
      if (response.ok) {
        send("/greet", null, true);
      } else {
        failed("/greet", TEXT.serverError);
      }
    }, function () {
      if (mine !== epoch) { return; }
      setBusy(false);
      failed("/greet", TEXT.offline);
    });
    input.focus();
  });

  // The desk: what a person at the one-stop desk writes (or the rating asked when they finish) is
  // collected from /api/chat/updates, and /?q=<procedure code> (a printed checklist's QR) opens on it.
  var UPDATES_MS = 3000;
  function collect() {
    if (document.hidden) { return; }
    fetch("/api/chat/updates", { credentials: "same-origin" }).then(function (r) {
      return r.ok ? r.json() : null;
    }).then(function (body) {
      if (!body || !Array.isArray(body.replies) || !body.replies.length) { return; }
      body.replies.forEach(function (reply) { showReply(reply); });
      main.scrollTop = main.scrollHeight;
    }, function () { /* offline for a moment: the next tick asks again */ });
  }
  setInterval(collect, UPDATES_MS);

  var asked = new URLSearchParams(window.location.search).get("q");
  if (asked && /^[0-9A-Za-z.\-]{1,20}$/.test(asked)) {
    send("/ask_documents" + JSON.stringify({ procedure: asked }), null, true);
  } else {
    send("/greet", null, true);
  }
})();
