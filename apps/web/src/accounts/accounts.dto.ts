import { IsIn, IsString, Length, Matches } from 'class-validator';
import { LANGUAGES, type Language } from './account.model';

export class SignInDto {
  @IsString()
  @Length(1, 100)
  username!: string;

  @IsString()
  @Length(1, 200)
  password!: string;
}

export class LanguageDto {
  @IsIn(LANGUAGES)
  language!: Language;
}

export class UserIdParam {
  @Matches(/^[0-9a-f-]{36}$/, { message: 'must be a user id' })
  id!: string;
}
