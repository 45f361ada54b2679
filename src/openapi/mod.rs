//! Import of API Gateway OpenAPI 3.0 and Swagger 2.0 exports (feature `openapi`).
