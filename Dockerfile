# syntax=docker/dockerfile:1
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src src
COPY migrations migrations
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
ENV NODE_ENV=production
# Inside a container every interface is meant (only published ports are reachable); outside,
# Gatehouse on the embedded database listens on 127.0.0.1 unless HOST says otherwise.
ENV HOST=0.0.0.0
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
USER node
EXPOSE 3000
# Over https when Gatehouse serves TLS itself (NET-1); loopback, so the certificate's name is not checked.
HEALTHCHECK --interval=10s --timeout=3s CMD node -e "const e=process.env;require(e.TLS_CERT_FILE?'https':'http').get({host:'127.0.0.1',port:e.PORT||3000,path:'/healthz',rejectUnauthorized:false},r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1))"
CMD ["node", "--max-semi-space-size=16", "dist/src/main.js"]
