// Copies the files tsc does not emit (the dashboard's HTML, CSS and JS) into dist/.
import { cpSync } from 'node:fs';

cpSync(new URL('../balancer/admin/dashboard/', import.meta.url), new URL('../dist/balancer/admin/dashboard/', import.meta.url), { recursive: true });
