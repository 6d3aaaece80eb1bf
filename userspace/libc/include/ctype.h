/* <ctype.h> of Anvil's bootstrap libc ("C" locale, ASCII). */
#ifndef _ANVIL_LIBC_CTYPE_H
#define _ANVIL_LIBC_CTYPE_H

int isspace(int c);
int isdigit(int c);
int isxdigit(int c);
int isalpha(int c);
int isalnum(int c);
int isupper(int c);
int islower(int c);
int isprint(int c);
int toupper(int c);
int tolower(int c);

#endif
