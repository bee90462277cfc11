/**
 * Moves the keyboard focus to an element as it appears (Svelte action: `use:focusOnMount`).
 * A confirmation shown in place of the button that asked for it focuses its Cancel, as native
 * dialogs focus the harmless choice: a held or doubled Enter cannot revoke; Shift+Tab reaches
 * the confirming button.
 */
export function focusOnMount(node: HTMLElement): void {
  node.focus();
}
