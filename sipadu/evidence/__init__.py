"""What reporters upload: encrypted blobs in the database, and images checked and
cleaned of metadata before they are stored. No Flask."""
