// Package deploy holds xjp's deployment files: the Kubernetes manifests in
// kubernetes/ (applied with kubectl apply -k) next to the Dockerfile at the
// repository root. It has no code; its test parses every manifest and checks
// them against the Dockerfile and against what config.Load reads, so that
// the manifests cannot drift from the binary. docs/deploy.md explains them.
package deploy
