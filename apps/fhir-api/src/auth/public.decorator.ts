import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC = 'carerelay:auth:public';

/** Marks a route that needs no access token (metadata, SMART configuration, token endpoint). */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(IS_PUBLIC, true);
