/**
 * Chromium keeps the glyphs it shaped for a style before that style's web font arrived:
 * Korean or Chinese drawn before cjk-fonts.css's font loaded stayed in boxes on a machine
 * without CJK fonts (the top bar, the Reset label, the progress line), although the font
 * was loaded and used for text drawn later; a new font-family list did not help, any
 * other change to the font did. So after each batch of font loads the page inherits a
 * new, unknown (hence inert) OpenType feature: every style is a new font, shaped anew.
 */
export function reshapeTextWhenFontsLoad(): void {
  let batch = 0;
  document.fonts.addEventListener('loadingdone', () => {
    batch = (batch + 1) % 100;
    document.documentElement.style.fontFeatureSettings = `"nl${String(batch).padStart(2, '0')}" 0`;
  });
}
