() => {
  const attempt = (left) => {
    const view = document.querySelector('#ca-document');
    const box = view && view.querySelector('.ca-doc-text');
    if (!box || box.offsetParent === null) {
      if (left > 0) setTimeout(() => attempt(left - 1), 100);
      return;
    }
    const hit = box.querySelector('#ca-hit');
    if (box.scrollHeight > box.clientHeight + 1) {
      box.scrollTop = hit ? Math.max(0, hit.offsetTop - box.clientHeight / 3) : 0;
      document.querySelector('#ca-back').scrollIntoView({block: 'start'});
    } else if (hit) {
      hit.scrollIntoView({block: 'center'});
    }
  };
  attempt(30);
}
