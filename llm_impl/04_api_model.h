/* (filled in below) */
