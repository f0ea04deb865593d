// The web chat: sends each message (or a button's payload) to POST /api/chat and
// shows the replies. Everything is added with textContent: no HTML from messages.
(function () {
  "use strict";
  var log = document.getElementById("log");
  var form = document.getElementById("composer");
  var input = document.getElementById("text");
  var main = document.querySelector("main");

  function userId() {
    var key = "tthc-user";
    var id = null;
    try { id = window.localStorage.getItem(key); } catch (e) { id = null; }
    if (!id) {
      id = "w-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 10);
      try { window.localStorage.setItem(key, id); } catch (e) { /* private mode: id lasts this page */ }
    }
    return id;
  }
  var user = userId();

  function scrollDown() { main.scrollTop = main.scrollHeight; }

  function add(kind, text) {
    var li = document.createElement("li");
    li.className = "msg " + kind;
    var p = document.createElement("div");
    p.className = "text";
    p.textContent = text;
    li.appendChild(p);
    log.appendChild(li);
    scrollDown();
    return li;
  }

  function safeUrl(url) {
    try {
      var u = new URL(url, window.location.href);
      return (u.protocol === "https:" || u.protocol === "http:") ? u.href : null;
    } catch (e) { return null; }
  }

  function showReply(reply) {
    var li = add("bot", reply.text);
    if (reply.checklist && reply.checklist.length) {
      var ul = document.createElement("ul");
      ul.className = "checklist";
      reply.checklist.forEach(function (item) {
        var row = document.createElement("li");
        var label = document.createElement("label");
        var box = document.createElement("input");
        box.type = "checkbox";
        box.checked = !!item.done;
        label.appendChild(box);
        label.appendChild(document.createTextNode(item.text));
        row.appendChild(label);
        ul.appendChild(row);
      });
      li.appendChild(ul);
    }
    if (reply.links && reply.links.length) {
      var links = document.createElement("div");
      links.className = "links";
      reply.links.forEach(function (link) {
        var href = safeUrl(link.url);
        if (!href) { return; }
        var a = document.createElement("a");
        a.href = href;
        a.target = "_blank";
        a.rel = "noopener noreferrer";
        a.textContent = link.title;
        links.appendChild(a);
      });
      li.appendChild(links);
    }
    if (reply.buttons && reply.buttons.length) {
      var row = document.createElement("div");
      row.className = "buttons";
      reply.buttons.forEach(function (b) {
        var button = document.createElement("button");
        button.type = "button";
        button.textContent = b.title;
        button.addEventListener("click", function () { send(b.payload, b.title); });
        row.appendChild(button);
      });
      li.appendChild(row);
    }
  }

  function send(text, shown, quiet) {
    if (!quiet) { add("me", shown || text); }
    var waiting = add("bot typing", "…");
    fetch("/api/chat", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ user: user, text: text })
    }).then(function (response) {
      return response.json().then(function (body) { return { ok: response.ok, body: body }; });
    }).then(function (result) {
      waiting.remove();
      if (!result.ok) { add("error", result.body.error || "Có lỗi, bạn thử lại nhé."); return; }
      result.body.replies.forEach(showReply);
    }).catch(function () {
      waiting.remove();
      add("error", "Không kết nối được máy chủ. Bạn kiểm tra mạng rồi thử lại nhé.");
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) { return; }
    input.value = "";
    send(text);
    input.focus();
  });

  send("/greet", null, true);
})();
