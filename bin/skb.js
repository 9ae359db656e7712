#!/usr/bin/env node
// The CLI is compiled from src/api/cli; `npm run build` (run by `npm start` and `npm test`) produces it.
import '../dist/api/cli/main.js';
