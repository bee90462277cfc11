import { vitePreprocess } from "@sveltejs/vite-plugin-svelte";

export default {
  preprocess: vitePreprocess(),
  compilerOptions: {
    // Styles go to the bundled CSS file: the window's CSP allows no inline styles.
    css: "external",
  },
};
