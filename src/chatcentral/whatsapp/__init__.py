"""The WhatsApp Cloud API edge: payload models, signatures, outbound builders, Graph client."""
