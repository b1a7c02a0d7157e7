/* The language switch (dashboard/i18n.py language_switch): a plain link "?lang=xx" that reloads the page in
   that language; the server remembers the choice in a cookie. Here the rest of the query string is kept
   (the map's ?country=NGA&year=2023), so switching language never loses the view. */
document.addEventListener("click", function (event) {
  var link = event.target && event.target.closest ? event.target.closest("a.lang-link") : null;
  if (!link || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) { return; }
  var code = link.getAttribute("hreflang");
  if (!code) { return; }
  var url = new URL(window.location.href);
  url.searchParams.set("lang", code);
  event.preventDefault();
  window.location.assign(url.toString());
});
