/* Upload progress for the reporter's report and reply forms (issue 16 item 6).
 *
 * Optional: without JavaScript (Tor Browser "Safest") the forms are sent as usual and
 * say that large files over Tor take long. With it, the same multipart body is sent with
 * XMLHttpRequest so the page can show a progress bar, the percentage and the time left,
 * and the send buttons are disabled while it runs (a second click used to restart the
 * whole upload). The server's answer is a whole page: a redirect is followed with
 * location.assign, any other page replaces this one.
 *
 * The code page must never be lost: if anything in this path fails (a network error, an
 * abort, an answer that is not one of the portal's pages) the form is sent again the
 * usual way, with the same one-time submission token, so the server stores it at most
 * once and shows the code of a report it already stored (docs/reporter.md).
 *
 * Every word comes from the page (data-* attributes rendered in the reader's language);
 * nothing here is shown to the reader as it is written.
 */
(function () {
  "use strict";

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (whole, name) {
      return Object.prototype.hasOwnProperty.call(values, name) ? values[name] : whole;
    });
  }

  function remaining(words, seconds) {
    var minutes = Math.ceil(seconds / 60);
    if (minutes < 60) {
      return fill(words.minutes, { n: String(minutes) });
    }
    return fill(words.hours, { h: String(Math.floor(minutes / 60)), m: String(minutes % 60) });
  }

  // A submit button that goes somewhere else or says something of its own (the
  // language switch: name="switch_language", formaction="...?lang=") is sent the usual
  // way: it stores nothing and re-renders the form.
  function ordinary(submitter) {
    return !submitter || (!submitter.hasAttribute("formaction") && !submitter.name);
  }

  function body(form, submitter) {
    try {
      return new FormData(form, submitter || undefined);
    } catch (error) {
      var data = new FormData(form);
      if (submitter && submitter.name) {
        data.append(submitter.name, submitter.value);
      }
      return data;
    }
  }

  function enhance(box) {
    var form = box.closest("form");
    if (!form || form.dataset.uploadEnhanced) {
      return;
    }
    form.dataset.uploadEnhanced = "1";
    var bar = box.querySelector("progress");
    var status = box.querySelector("[data-upload-status]");
    var words = box.dataset;
    var sending = false;
    var leaving = false;

    window.addEventListener("pagehide", function () {
      leaving = true;
    });
    // Back to this page from the browser's cache after it was left: ready again.
    window.addEventListener("pageshow", function (event) {
      if (event.persisted) {
        leaving = false;
        sending = false;
        buttons(false);
        box.hidden = true;
      }
    });

    function say(text) {
      status.textContent = text;
    }

    function buttons(disabled) {
      Array.prototype.forEach.call(form.elements, function (element) {
        if (element.type === "submit") {
          element.disabled = disabled;
        }
      });
    }

    function guard(event) {
      event.preventDefault();
      event.returnValue = "";
    }

    // The usual way, once: the same fields and files, the same submission token.
    function fallback() {
      window.removeEventListener("beforeunload", guard);
      if (leaving) {
        return;
      }
      say(words.uploadFallback);
      bar.removeAttribute("value"); // an indeterminate bar: no progress to show
      HTMLFormElement.prototype.submit.call(form);
    }

    function show(xhr) {
      window.removeEventListener("beforeunload", guard);
      var type = xhr.getResponseHeader("Content-Type") || "";
      var page = xhr.status < 500 || xhr.status === 503;
      if (xhr.status < 200 || !page || type.indexOf("text/html") !== 0 || !xhr.responseURL) {
        fallback();
        return;
      }
      var sent = new URL(xhr.responseURL);
      if (sent.origin !== location.origin) {
        fallback();
        return;
      }
      if (sent.href !== new URL(form.action, location.href).href) {
        // Redirected (the mailbox after a reply): a GET of a page, safe to load again.
        location.assign(sent.href);
        return;
      }
      // The answer to a POST: shown in place at once. The address stays this form's page
      // (a GET-able one): the POST's own address would answer a reload with "method not
      // allowed" (/mailbox/messages) or an empty form (/report).
      document.open();
      document.write(xhr.responseText);
      document.close();
      if (xhr.status >= 400 || document.getElementById("reply")) {
        // A refusal, or the sign-in page keeping a late reply: what was typed is only in
        // this document, and a reload would load the empty form. The browser asks first;
        // the page's own forms (send again, language) leave without asking.
        window.addEventListener("beforeunload", guard);
        document.addEventListener("submit", function () {
          window.removeEventListener("beforeunload", guard);
        });
      }
      var receipt = document.getElementById("leave-form");
      if (receipt && document.getElementById("report-code")) {
        // The code page: shown, then loaded again as an ordinary POST of its own form
        // (the code and the suggested passphrase, never the report), so that Reload and
        // Back + Forward bring the code back instead of an empty form.
        if (document.getElementById("already-received")) {
          var again = document.createElement("input");
          again.type = "hidden";
          again.name = "again";
          again.value = "1";
          receipt.appendChild(again);
        }
        HTMLFormElement.prototype.submit.call(receipt);
      }
    }

    form.addEventListener("submit", function (event) {
      if (sending) {
        event.preventDefault();
        return;
      }
      if (!ordinary(event.submitter) || !window.FormData || !window.XMLHttpRequest) {
        return;
      }
      event.preventDefault();
      sending = true;
      var data = body(form, event.submitter);
      buttons(true);
      box.hidden = false;
      bar.value = 0;
      say(words.uploadStart);
      window.addEventListener("beforeunload", guard);

      var started = Date.now();
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.upload.addEventListener("progress", function (progress) {
        if (!progress.lengthComputable || progress.total === 0) {
          return;
        }
        var percent = Math.floor((progress.loaded / progress.total) * 100);
        bar.value = percent;
        var elapsed = (Date.now() - started) / 1000;
        if (progress.loaded >= progress.total) {
          say(words.uploadWaiting);
        } else if (elapsed < 2 || progress.loaded === 0) {
          say(fill(words.uploadPercent, { percent: String(percent) }));
        } else {
          var left = ((progress.total - progress.loaded) * elapsed) / progress.loaded;
          if (left < 60) {
            say(fill(words.uploadSoon, { percent: String(percent) }));
          } else {
            say(
              fill(words.uploadProgress, {
                percent: String(percent),
                remaining: remaining(
                  { minutes: words.uploadMinutes, hours: words.uploadHours },
                  left
                ),
              })
            );
          }
        }
      });
      xhr.upload.addEventListener("load", function () {
        bar.value = 100;
        say(words.uploadWaiting);
      });
      xhr.addEventListener("load", function () {
        show(xhr);
      });
      xhr.addEventListener("error", fallback);
      xhr.addEventListener("abort", fallback);
      xhr.addEventListener("timeout", fallback);
      xhr.send(data);
    });
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-upload]"), enhance);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
