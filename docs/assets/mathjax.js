// The notebooks' TeX ($x$, $$...$$) typeset by MathJax 3, served from this site (no CDN):
// scripts/docs/gen_mathjax.py copies its single-file SVG build beside this file. Pages without
// notebook cells do not load it.
window.MathJax = {
  tex: { inlineMath: [["$", "$"], ["\\(", "\\)"]], displayMath: [["$$", "$$"], ["\\[", "\\]"]] },
  svg: { fontCache: "global" },
};
if (document.querySelector(".jp-Notebook")) {
  const mathjax = document.createElement("script");
  mathjax.src = new URL("mathjax/tex-svg.js", document.currentScript.src).href;
  mathjax.async = true;
  document.head.appendChild(mathjax);
}
