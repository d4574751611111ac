# stats-server: build the TypeScript once, run on Node 22 (slim).
# test/integration/image-layout.test.ts reads this file: it assembles what the runtime stage's COPY lines
# copy into a temporary directory and runs the CMD from there (API, dashboard and SDK).
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages ./packages
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:22-bookworm-slim
ENV NODE_ENV=production SERVER_HOST=0.0.0.0 SERVER_PORT=8000 DATA_DIR=/data
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
# The server (dist/), the dashboard bundle (dist/ui) and the browser SDK it serves at /sdk/.
COPY --from=build /app/dist ./dist
COPY --from=build /app/packages/reporter/dist ./packages/reporter/dist
# The embedded store (and its single-server lock) live in /data: writable by the user we run as.
RUN mkdir -p /data && chown node:node /data
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=5 \
  CMD node -e "fetch('http://127.0.0.1:8000/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
USER node
CMD ["node", "dist/cli.js", "serve"]
