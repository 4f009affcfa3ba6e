# Firebreak worker image. `npm ci` installs everything; the workflow bundle and
# the compiled CLI (scripts/build-cli.mjs, esbuild) are built ahead of time.
FROM node:20-slim

WORKDIR /app

# Dependencies first, so source edits reuse this layer.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error && npm cache clean --force

COPY . .

# Pre-build the workflow bundle so the worker skips webpack at start-up.
RUN npx tsx scripts/bundle-workflows.ts /app/dist/workflow-bundle.js
# The compiled CLI (.build/): the unprivileged user could not write it at start.
RUN node scripts/build-cli.mjs

# The data folder (evidence, reports) lives on a volume the unprivileged user can write.
RUN mkdir -p /var/lib/firebreak /etc/firebreak && chown node:node /var/lib/firebreak

ENV NODE_ENV=production \
    FIREBREAK_RUNBOOKS_DIR=/app/runbooks \
    FIREBREAK_DATA_DIR=/var/lib/firebreak \
    FIREBREAK_WORKFLOW_BUNDLE=/app/dist/workflow-bundle.js

USER node
VOLUME ["/var/lib/firebreak"]

CMD ["node", "bin/firebreak.js", "worker"]
