# The starling image for hosts with Docker (or BuildKit, podman build).
# scripts/build-image.sh builds the same image without a daemon; both run
# scripts/image/rootfs.mjs, so the file tree, user, entrypoint and cmd are
# the same (docs/deploy.md). The result has no shell and no package
# manager: Node, the libraries it links, starling and its production
# dependencies, ~41 MiB compressed.
#
#   docker build -t starling .
#   docker run --rm starling --version
#   docker run -d --network host -v starling:/var/lib/starling starling

# Build stage: compile, then assemble the two layer folders.
FROM node:20-bookworm-slim AS build
# binutils: `strip` for the node binary (−12 MiB); the rootfs script skips it if absent.
RUN apt-get update && apt-get install -y --no-install-recommends binutils && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json ./
COPY bin bin
COPY src src
COPY protocols protocols
COPY scripts/image scripts/image
COPY README.md ./
# test/, bench/ and examples/ are not copied, so this compiles src only.
RUN npx tsc -p tsconfig.json
RUN node scripts/image/rootfs.mjs /out

# Final stage: nothing but the two folders (the same two layers as the script's image).
FROM scratch
COPY --from=build /out/runtime /
COPY --from=build /out/app /
# COPY does not keep the owner of the state folder; the image user must own it.
COPY --from=build --chown=10001:10001 /out/runtime/var/lib/starling /var/lib/starling
USER 10001:10001
WORKDIR /var/lib/starling
ENV PATH=/usr/local/bin:/usr/bin:/bin \
    HOME=/var/lib/starling \
    STARLING_DATA_DIR=/var/lib/starling \
    NODE_ENV=production
VOLUME /var/lib/starling
EXPOSE 7480/tcp
LABEL org.opencontainers.image.title=starling \
      org.opencontainers.image.source=https://github.com/starling-swarm/starling
ENTRYPOINT ["/usr/local/bin/node", "/opt/starling/bin/starling.js"]
CMD ["daemon"]
