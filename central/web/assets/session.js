// When the session has ended, a callback gets 401: go to the login page instead of
// leaving a page that silently stops updating.
(function () {
  const fetchBefore = window.fetch;
  window.fetch = async function (...args) {
    const response = await fetchBefore.apply(this, args);
    if (response.status === 401) {
      const next = window.location.pathname + window.location.search;
      window.location.assign("/login?expired=1&next=" + encodeURIComponent(next));
    }
    return response;
  };
})();
