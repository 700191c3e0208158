import { IsIn, IsInt, IsOptional, IsString, Length, Matches, Max, Min } from 'class-validator';

export class ServiceIdParam {
  @Matches(/^[A-Za-z0-9\-.]{1,64}$/, { message: 'must be a service id' })
  id!: string;
}

export class DeliveryIdParam {
  @Matches(/^\d{1,18}$/, { message: 'must be a delivery number' })
  id!: string;
}

/** open / waitlist / full, as the directory names them. */
export class CapacityChangeDto {
  @IsIn(['available', 'waitlist', 'no-capacity'])
  status!: 'available' | 'waitlist' | 'no-capacity';

  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(100_000)
  available?: number;

  @IsOptional()
  @IsString()
  @Length(0, 500)
  notes?: string;
}
