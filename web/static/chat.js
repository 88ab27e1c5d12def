// The chat page, better with JavaScript: asks /api/ask with the thread, appends the answer, keeps the permalink.
// Every value from the archive goes into the page through textContent or a checked attribute, never as HTML.
(function () {
  "use strict";
  var form = document.getElementById("ask-form");
  var thread = document.getElementById("thread");
  if (!form || !thread || !window.fetch || !window.URLSearchParams) { return; }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    (children || []).forEach(function (child) {
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }
  function external(url) { return typeof url === "string" && /^https?:\/\//i.test(url.trim()) ? url.trim() : null; }
  function documentPage(id) { return "/documents/" + encodeURIComponent(id); }
  function personPage(name) { return "/people/" + encodeURIComponent(name); }
  function personLinks(names) {
    var parts = [];
    names.forEach(function (name, i) {
      if (i) { parts.push(", "); }
      parts.push(el("a", { href: personPage(name) }, [name]));
    });
    return parts;
  }
  function anchor(turn, rank) { return "t" + turn + "-doc" + rank; }

  function readFilters() {
    var data = new FormData(form);
    var pick = function (name) { return data.getAll(name).filter(function (v) { return v && v.trim(); }); };
    return { date_from: (data.get("date_from") || "").trim() || null, date_to: (data.get("date_to") || "").trim() || null,
             person: pick("person"), place: pick("place"), region: pick("region"), sort: data.get("sort") || "relevance",
             interpret: data.get("interpret") !== "0" };
  }
  function permalink(question, earlier, filters, interpret) {
    var params = new URLSearchParams();
    params.append("q", question);
    earlier.forEach(function (h) { params.append("h", h); });
    ["date_from", "date_to", "person", "place", "region", "sort"].forEach(function (key) {
      var value = filters[key];
      (Array.isArray(value) ? value : [value]).forEach(function (v) {
        if (v && v !== "relevance") { params.append(key, v); }
      });
    });
    if (!interpret) { params.append("interpret", "0"); }
    return "/?" + params.toString();
  }
  function historyOf(article) {
    var cited = Array.prototype.map.call(article.querySelectorAll("a.marker"), function (a) {
      return { id: a.getAttribute("data-id"), date: a.getAttribute("data-date") || null };
    });
    return { question: article.getAttribute("data-question"), query: article.getAttribute("data-query"),
             citations: cited };
  }
  function reading(interpreted) {
    var phrases = [];
    if (!interpreted) { return phrases; }
    if (interpreted.author) { phrases.push("by " + interpreted.author); }
    var others = (interpreted.people || []).filter(function (p) { return p !== interpreted.author; });
    if (others.length) { phrases.push("about " + others.join(", ")); }
    if ((interpreted.regions || []).length) { phrases.push("in " + interpreted.regions.join(", ")); }
    if ((interpreted.date_from || interpreted.date_to) && !interpreted.date_overridden_by) {
      phrases.push("dated " + (interpreted.date_from || "…") + " to " + (interpreted.date_to || "…") +
                   (interpreted.date_phrase ? " (“" + interpreted.date_phrase + "”)" : ""));
    }
    return phrases;
  }

  function renderTurn(number, data, earlier, filters) {
    var ranks = {};
    data.documents.forEach(function (doc, i) { ranks[doc.id] = i + 1; });
    var cited = {};
    data.citations.forEach(function (c) { cited[c.marker] = c; });
    var article = el("article", { "class": "turn", id: "turn" + number, "aria-labelledby": "turn" + number + "-q" });
    article.setAttribute("data-question", data.question);
    article.setAttribute("data-query", data.query);
    article.appendChild(el("h3", { "class": "question", id: "turn" + number + "-q" },
                           [el("span", { "class": "visually-hidden" }, ["Question: "]), data.question]));
    var follow = data.interpreted && data.interpreted.follow_up;
    if (follow) {
      article.appendChild(el("p", { "class": "follow-up" }, ["Read as a follow-up to “" + follow.of +
        "”: searched for “" + follow.read_as + "”" + follow.notes.slice(1).map(function (n) { return ", " + n; }).join("") + "."]));
    }
    var phrases = reading(data.interpreted);
    if (phrases.length) {
      var interpreted = data.interpreted || {};
      var readPeople = (interpreted.author ? [interpreted.author] : []).concat((interpreted.people || []).filter(function (p) {
        return p !== interpreted.author; }));
      var chips = readPeople.map(function (name) { return el("a", { "class": "person-chip", href: personPage(name) }, [name]); });
      var line = el("p", { "class": "interpreted" }, ["Read the question as: " + phrases.join("; ") + ". "]);
      if (chips.length) {
        var span = el("span", { "class": "person-links" });
        chips.forEach(function (chip) { span.appendChild(chip); span.appendChild(document.createTextNode(" ")); });
        line.appendChild(span);
      }
      line.appendChild(el("a", { href: permalink(data.question, earlier, filters, false) }, ["Search the words only, without this reading"]));
      article.appendChild(line);
    }
    var answer = el("p", { tabindex: "-1" });
    data.answer.split(/(\[\d+\])/).forEach(function (piece) {
      var match = /^\[(\d+)\]$/.exec(piece);
      var entry = match && cited[Number(match[1])];
      if (entry) {
        var rank = ranks[entry.id];
        answer.appendChild(el("a", { "class": "marker", href: rank ? "#" + anchor(number, rank) : entry.url,
          "data-id": entry.id, "data-date": entry.date || "",
          "aria-label": "source " + entry.marker + ": " + (entry.date_display || "undated") + ", " + (entry.title || "") }, [piece]));
      } else if (piece) {
        answer.appendChild(document.createTextNode(piece));
      }
    });
    article.appendChild(el("div", { "class": "answer" + (data.answerable ? "" : " no-answer") },
                           [el("h4", { "class": "visually-hidden" }, ["Answer"]), answer]));
    var dated = data.citations.filter(function (c) { return c.date; }).slice().sort(function (a, b) {
      return a.date < b.date ? -1 : a.date > b.date ? 1 : 0; });
    if (dated.length > 1) {
      var days = dated.map(function (c) { return Date.parse(c.date.length === 4 ? c.date + "-01-01" : c.date.length === 7 ? c.date + "-01" : c.date); });
      var span = Math.max(days[days.length - 1] - days[0], 1);
      var line = el("ol", { "class": "timeline", "aria-label": "Timeline of the cited documents" });
      dated.forEach(function (c, i) {
        var item = el("li", {}, [el("a", { href: "#" + anchor(number, ranks[c.id] || 0) }, ["[" + c.marker + "] " + (c.date_display || c.date)])]);
        item.style.setProperty("--pos", (days[days.length - 1] > days[0] ? (100 * (days[i] - days[0]) / span).toFixed(1) : 50) + "%");
        line.appendChild(item);
      });
      article.appendChild(line);
    }
    if (data.documents.length) {
      article.appendChild(el("h4", { "class": "cards-heading" },
        [data.answerable ? "Documents" : "Nearest documents (none answers the question)"]));
      var cards = el("ol", { "class": "cards" });
      data.documents.forEach(function (doc, i) {
        var mine = data.citations.filter(function (c) { return c.id === doc.id; })[0];
        var meta = el("p", { "class": "card-meta" });
        if (mine) { meta.appendChild(el("span", { "class": "badge" }, ["[" + mine.marker + "]"])); meta.appendChild(document.createTextNode(" ")); }
        var time = el("time", doc.date ? { datetime: doc.date } : {}, [doc.date_display]);
        meta.appendChild(time);
        var links = el("p", { "class": "card-links" }, [el("a", { href: documentPage(doc.id) }, ["Open the document"])]);
        if (mine && mine.passage) {
          links.appendChild(document.createTextNode(" · "));
          links.appendChild(el("a", { "class": "quoted", href: mine.url }, ["Open at the quoted words"]));
        }
        var original = external(doc.url);
        if (original) { links.appendChild(document.createTextNode(" · ")); links.appendChild(el("a", { href: original, rel: "noopener noreferrer" }, ["Original source"])); }
        if (doc.source) { links.appendChild(document.createTextNode(" · ")); links.appendChild(el("span", { "class": "source" }, [doc.source])); }
        var card = el("li", { "class": "card" + (mine ? " cited" : ""), id: anchor(number, i + 1), tabindex: "-1" },
          [meta, el("h5", { "class": "card-title" + (doc.title ? "" : " untitled") },
                    [el("a", { href: documentPage(doc.id) }, [doc.title || doc.summary || doc.label])])]);
        var snip = doc.snippet;
        if (doc.title && doc.summary && !(snip && snip.field === "summary")) {
          card.appendChild(el("p", { "class": "summary" }, [doc.summary]));
        }
        if (snip && (doc.title || snip.field !== "summary")) { card.appendChild(snippet(snip)); }
        card.appendChild(links);
        if ((doc.people || []).length) {
          card.appendChild(el("p", { "class": "card-people" }, ["People: "].concat(personLinks(doc.people))));
        }
        cards.appendChild(card);
      });
      article.appendChild(cards);
    }
    article.appendChild(el("p", { "class": "permalink" }, [el("a", { href: permalink(data.question, earlier, filters, filters.interpret) }, ["Permalink to this question"])]));
    return article;
  }

  var status = el("p", { "class": "status", role: "status", id: "ask-status" });
  form.appendChild(status);

  form.addEventListener("submit", function (event) {
    var input = form.querySelector("#q");
    var question = input.value.trim();
    if (!question) { return; }
    event.preventDefault();
    var turns = Array.prototype.slice.call(thread.querySelectorAll("article.turn"));
    var history = turns.map(historyOf).slice(-20);
    var earlier = history.map(function (t) { return t.question; });
    var filters = readFilters();
    var button = form.querySelector("button[type=submit]");
    button.disabled = true;
    thread.setAttribute("aria-busy", "true");
    status.textContent = "Searching the archive…";
    fetch("/api/ask", { method: "POST", headers: { "Content-Type": "application/json", Accept: "application/json" },
                        body: JSON.stringify({ question: question, history: history, filters: filters }) })
      .then(function (response) {
        return response.json().then(function (body) { return { ok: response.ok, body: body }; });
      })
      .then(function (result) {
        if (!result.ok) {
          var detail = Array.isArray(result.body.detail) ? result.body.detail.map(function (d) {
            return (d.loc || []).slice(1).join(".") + ": " + d.msg; }).join("; ") : String(result.body.detail);
          status.textContent = "Could not ask: " + detail;
          return;
        }
        var article = renderTurn(turns.length + 1, result.body, earlier, filters);
        thread.appendChild(article);
        var hint = document.getElementById("hint");
        if (hint) { hint.remove(); }
        var keep = el("input", { type: "hidden", name: "h" });
        keep.value = question;
        var label = form.querySelector("label[for=q]");
        form.insertBefore(keep, label);  // after the earlier questions: the thread stays in order
        input.value = "";
        if (label) { label.textContent = "Follow-up question"; }
        var links = form.querySelector(".ask-links");
        if (links && !document.getElementById("new-conversation")) {
          links.appendChild(el("a", { href: "/", id: "new-conversation" }, ["New conversation"]));
        }
        status.textContent = result.body.answerable ? "Answered, with " + result.body.citations.length + " cited document(s)." : "The archive holds nothing on this question.";
        window.history.pushState({}, "", permalink(question, earlier, filters, filters.interpret));
        article.querySelector(".answer p").focus();
      })
      .catch(function (error) { status.textContent = "Could not reach the archive: " + error.message; })
      .then(function () { button.disabled = false; thread.setAttribute("aria-busy", "false"); });
  });

  // The keyword-in-context snippet: the question's words in <mark>, text nodes only (never HTML).
  function snippet(snip) {
    var parts = [], at = 0;
    if (snip.before) { parts.push("… "); }
    snip.marks.forEach(function (m) {
      parts.push(snip.text.slice(at, m[0]));
      parts.push(el("mark", {}, [snip.text.slice(m[0], m[1])]));
      at = m[1];
    });
    parts.push(snip.text.slice(at));
    if (snip.after) { parts.push(" …"); }
    return el("p", { "class": "snippet" }, parts);
  }

  // A marker moves focus to its card, so keyboard and screen-reader users land on the source.
  thread.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a.marker, .timeline a");
    if (!link || link.getAttribute("href").charAt(0) !== "#") { return; }
    var card = document.getElementById(link.getAttribute("href").slice(1));
    if (card) { window.setTimeout(function () { card.focus(); }, 0); }
  });
})();
